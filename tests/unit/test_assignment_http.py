"""The assignment HTTP API over fakes: case steps only on cases, scoped idempotency keys, the calendar."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.assignment.application.boards import Cases, board_stream
from shared.contracts.calendar import CALENDAR_STREAM
from shared.eventstore.memory import InMemoryRecorder
from tests.support import STATUTORY_2027
from tests.unit.test_assignment_support import app_with, auth, open_case

CLARIFY = {"summary": "补贴未到账", "sections": ["国库科"]}
RESOLVE = {"summary": "已到账", "settlement_intent": True}
SPRING_2027 = {"holidays": [*STATUTORY_2027, "2027-02-09"], "makeup_workdays": ["2027-02-20"]}


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
async def http(recorder: InMemoryRecorder) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_with(recorder))
    async with httpx.AsyncClient(transport=transport, base_url="http://assignment") as client:
        yield client


async def types_of(recorder: InMemoryRecorder, stream: str) -> list[str]:
    return [e.event_type for e in await recorder.read_stream(stream)]


# ---- D: a case step only on a case of the caller's bureau ---------------------------------------
async def test_a_case_step_on_the_board_stream_is_not_found_and_writes_nothing(
    http: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    added = await http.post(
        "/api/v1/staff",
        json={"name": "王科长", "post": "section_chief", "section": "预算科"},
        headers=auth("finance-admin"),
    )
    assert added.status_code == 201
    before = await types_of(recorder, board_stream("finance"))

    answer = await http.post(
        "/api/v1/cases/board-finance/clarification", json=CLARIFY, headers=auth("finance-admin")
    )

    assert answer.status_code == 404
    assert await types_of(recorder, board_stream("finance")) == before


async def test_a_case_step_on_the_calendar_stream_is_not_found_and_the_calendar_stays_readable(
    http: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    published = await http.put("/api/v1/calendar/2027", json=SPRING_2027, headers=auth("zone-operator"))
    assert published.status_code == 201, published.text

    answer = await http.post(
        f"/api/v1/cases/{CALENDAR_STREAM}/clarification", json=CLARIFY, headers=auth("finance-admin")
    )

    assert answer.status_code == 404
    assert await types_of(recorder, CALENDAR_STREAM) == ["WorkdayCalendarPublished"]
    assert (await http.get("/api/v1/calendar/2027", headers=auth("finance-staff"))).status_code == 200


async def test_another_bureaus_case_is_not_found(http: httpx.AsyncClient, recorder: InMemoryRecorder) -> None:
    await open_case(recorder, "c1", "finance", 1)
    answer = await http.post("/api/v1/cases/c1/clarification", json=CLARIFY, headers=auth("innovation-admin"))
    assert answer.status_code == 404 and await types_of(recorder, "c1") == ["CaseOpened"]


async def test_cases_load_nothing_but_case_streams(
    recorder: InMemoryRecorder, http: httpx.AsyncClient
) -> None:
    await http.post(
        "/api/v1/staff",
        json={"name": "王", "post": "clerk", "section": "预算科"},
        headers=auth("finance-admin"),
    )
    await open_case(recorder, "c1", "finance", 1)
    cases = Cases(recorder)
    assert await cases.load(board_stream("finance")) is None and await cases.load("nothing") is None
    assert (await cases.load("c1")) is not None


# ---- F: Idempotency-Key scoped by bureau, method and path, with a request fingerprint ------------
async def test_a_key_reused_on_another_case_is_that_cases_own_request(
    http: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    await open_case(recorder, "a", "finance", 1)
    await open_case(recorder, "b", "finance", 2)
    first = await http.post(
        "/api/v1/cases/a/clarification", json=CLARIFY, headers=auth("finance-admin", "k1")
    )
    other = await http.post(
        "/api/v1/cases/b/clarification", json=CLARIFY, headers=auth("finance-admin", "k1")
    )
    assert first.status_code == other.status_code == 201
    assert await types_of(recorder, "b") == ["CaseOpened", "ProblemClarified"]


async def test_a_retried_resolution_gets_the_first_answer_not_a_conflict(
    http: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    await open_case(recorder, "a", "finance", 1)
    await http.post("/api/v1/cases/a/clarification", json=CLARIFY, headers=auth("finance-admin"))
    first = await http.post("/api/v1/cases/a/resolution", json=RESOLVE, headers=auth("finance-admin", "r1"))
    retry = await http.post("/api/v1/cases/a/resolution", json=RESOLVE, headers=auth("finance-admin", "r1"))
    assert (retry.status_code, retry.json()) == (first.status_code, first.json()) == (201, first.json())
    assert (await types_of(recorder, "a")).count("CaseResolved") == 1


async def test_a_key_reused_with_another_body_is_refused_with_the_reason(
    http: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    await open_case(recorder, "a", "finance", 1)
    await http.post("/api/v1/cases/a/clarification", json=CLARIFY, headers=auth("finance-admin", "k2"))
    changed = {**CLARIFY, "summary": "另一个问题"}
    answer = await http.post(
        "/api/v1/cases/a/clarification", json=changed, headers=auth("finance-admin", "k2")
    )
    assert answer.status_code == 409 and "Idempotency-Key" in answer.json()["detail"]
    assert (await types_of(recorder, "a")).count("ProblemClarified") == 1


async def test_a_retried_notice_publication_returns_the_first_notice(
    http: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    await http.post(
        "/api/v1/staff",
        json={"name": "王", "post": "section_chief", "section": "预算科"},
        headers=auth("finance-admin"),
    )
    body = {"number_prefix": "高新财金", "issued_on": "2026-10-08"}
    first = await http.post("/api/v1/notices", json=body, headers=auth("finance-admin", "n1"))
    await http.post(
        "/api/v1/staff",
        json={"name": "李", "post": "section_chief", "section": "国库科"},
        headers=auth("finance-admin"),
    )
    retry = await http.post("/api/v1/notices", json=body, headers=auth("finance-admin", "n1"))
    assert first.status_code == retry.status_code == 201 and retry.json() == first.json()
    assert (await types_of(recorder, board_stream("finance"))).count("NoticePublished") == 1


async def test_the_same_key_in_two_bureaus_is_two_requests(
    http: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    staff = {"name": "王", "post": "section_chief", "section": "预算科"}
    finance = await http.post("/api/v1/staff", json=staff, headers=auth("finance-admin", "same"))
    innovation = await http.post("/api/v1/staff", json=staff, headers=auth("innovation-admin", "same"))
    assert finance.json()["detail"]["staff_id"] != innovation.json()["detail"]["staff_id"]
    assert await types_of(recorder, board_stream("innovation")) == ["StaffMemberAdded"]


# ---- E: only the zone operator publishes the calendar, and the caller is recorded ----------------
async def test_a_bureau_admin_may_not_publish_the_zone_wide_calendar(
    http: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    answer = await http.put("/api/v1/calendar/2027", json=SPRING_2027, headers=auth("finance-admin"))
    assert answer.status_code == 403 and await types_of(recorder, CALENDAR_STREAM) == []


async def test_a_published_year_records_the_operator_who_published_it(http: httpx.AsyncClient) -> None:
    answer = await http.put("/api/v1/calendar/2027", json=SPRING_2027, headers=auth("zone-operator"))
    assert answer.status_code == 201, answer.text
    assert answer.json()["published_by"] == "zone/fake-zone-operator"
    year = (await http.get("/api/v1/calendar/2027", headers=auth("finance-staff"))).json()
    assert year["published_by"] == "zone/fake-zone-operator" and not year["provisional"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"holidays": ["2027-01-01"], "makeup_workdays": ["2027-02-22"]}, "weekend"),  # a Monday
        ({"holidays": ["2027-01-01", "2027-01-01"]}, "repeat"),
        ({"holidays": []}, "no holidays"),
        ({"holidays": ["2026-12-31"]}, "outside 2027"),
        # A year without its statutory holidays (a Sunday "holiday" only) would make them working days.
        ({"holidays": ["2027-01-03"]}, "2027-01-01 元旦, 2027-02-05 农历除夕"),
        (
            {"holidays": [d for d in STATUTORY_2027 if d != "2027-10-01"]},
            "must be holidays: 2027-10-01 国庆节",
        ),
        # 劳动节 2027-05-01 is a Saturday: the statute gives it off, so no 调休 may make it a working day.
        ({"holidays": STATUTORY_2027, "makeup_workdays": ["2027-05-01"]}, "2027-05-01 劳动节"),
    ],
)
async def test_an_unsound_year_is_refused_before_anything_is_recorded(
    http: httpx.AsyncClient, recorder: InMemoryRecorder, body: dict, reason: str
) -> None:
    answer = await http.put("/api/v1/calendar/2027", json=body, headers=auth("zone-operator"))
    assert answer.status_code == 422 and reason in answer.text
    assert await types_of(recorder, CALENDAR_STREAM) == []


async def test_putting_the_year_in_force_again_records_no_new_version(
    http: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    # The gateway may send a PUT twice (a read error after sending): the same year must stay one version.
    first = await http.put("/api/v1/calendar/2027", json=SPRING_2027, headers=auth("zone-operator"))
    again = await http.put("/api/v1/calendar/2027", json=SPRING_2027, headers=auth("zone-operator"))
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    corrected = {**SPRING_2027, "holidays": [*SPRING_2027["holidays"], "2027-02-10"]}
    changed = await http.put("/api/v1/calendar/2027", json=corrected, headers=auth("zone-operator"))
    assert changed.json()["version"] == first.json()["version"] + 1
    assert await types_of(recorder, CALENDAR_STREAM) == ["WorkdayCalendarPublished"] * 2


@pytest.mark.parametrize("year", ["%2B2027", "02027", "2027.0", "%202027", "2_027"])
async def test_a_year_in_the_path_is_four_plain_digits(http: httpx.AsyncClient, year: str) -> None:
    answer = await http.get(f"/api/v1/calendar/{year}", headers=auth("finance-staff"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["path", "year"]
    assert (await http.get("/api/v1/calendar/2027", headers=auth("finance-staff"))).status_code == 200
