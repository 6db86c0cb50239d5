"""The disbursement HTTP API with fakes: money format, refusals (409, nothing appended), tenancy, idempotency."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.disbursement.bootstrap import Overrides, build_app
from services.disbursement.settings import DisbursementSettings
from services.intake.application.open_case import OpenCase, open_case
from shared.auth.keys import Bureau, Principal, Role
from shared.contracts.assignment import Post
from shared.contracts.cases import OpenCaseRequest
from shared.contracts.envelope import Actor
from shared.eventstore.memory import InMemoryRecorder
from tests.fakes import FakeApiKeys
from tests.support import case_body, credit_code

ADMIN = {"Authorization": "Bearer admin"}
STAFF = {"Authorization": "Bearer staff"}
OTHER = {"Authorization": "Bearer other"}


class Bureaus:
    """Two registered bureaus."""

    async def exists(self, bureau_id: str) -> bool:
        return bureau_id in ("finance", "innovation")

    async def get(self, bureau_id: str) -> Bureau | None:
        return (
            Bureau(id=bureau_id, name_zh="财政金融局", name_en="Finance")
            if await self.exists(bureau_id)
            else None
        )


def opening(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "enterprise": {"name": "格力电器(郑州)有限公司", "credit_code": credit_code(1)},
        "source": "市财政局",
        "fund_type": "subsidy",
        "allocated": "70000000.00",
        "allocation_received_at": "2026-10-12T16:00:00+08:00",
    }
    body.update(overrides)
    return body


DIRECTOR = {"Authorization": "Bearer director"}
ADMIN_CLERK = {"Authorization": "Bearer admin-clerk"}
VIEWER_CHIEF = {"Authorization": "Bearer viewer-chief"}


PEOPLE = {  # token: staff id, name, post, account role
    "director": ("s-director", "周建国", Post.DIRECTOR, Role.STAFF),
    "admin-clerk": ("s-clerk", "赵经办", Post.CLERK, Role.ADMIN),
    "viewer-chief": ("s-chief", "钱科长", Post.SECTION_CHIEF, Role.VIEWER),
}


class PeopleAndKeys:
    """Bureau keys, and signed-in people of the finance bureau by post and account role."""

    def __init__(self, keys: FakeApiKeys) -> None:
        self._keys = keys

    async def authenticate(self, token: str) -> Principal | None:
        """Return the person of a known token, else the key's principal."""
        if token not in PEOPLE:
            return await self._keys.authenticate(token)
        staff_id, name, post, role = PEOPLE[token]
        return Principal(
            bureau="finance", role=role, key_id=f"t-{staff_id}", staff_id=staff_id, name=name, post=post.value
        )


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
async def client(recorder: InMemoryRecorder) -> AsyncIterator[httpx.AsyncClient]:
    keys = PeopleAndKeys(
        FakeApiKeys(
            {
                "admin": ("finance", Role.ADMIN),
                "staff": ("finance", Role.STAFF),
                "other": ("innovation", Role.ADMIN),
            }
        )
    )
    db: Any = None  # the routes under test read the event store only
    app = build_app(
        DisbursementSettings(), Overrides(recorder=recorder, api_keys=keys, db=db, bureaus=Bureaus())
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


async def open_one(client: httpx.AsyncClient, **overrides: Any) -> str:
    answer = await client.post("/api/v1/disbursements", json=opening(**overrides), headers=ADMIN)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


@pytest.mark.parametrize(
    ("amount", "why"),
    [
        (70000000.00, "JSON string"),
        ("70000000.001", "two decimal places"),
        ("-5.00", "negative"),
        ("0.00", "more than zero"),
        ("1e6", "up to 12 digits"),
        (" 5", "no spaces or line breaks around it"),  # the published pattern refuses it too
        ("5.00\n", "no spaces or line breaks around it"),
    ],
)
async def test_an_amount_that_is_not_a_positive_two_place_decimal_string_is_422_with_the_reason(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, amount: object, why: str
) -> None:
    answer = await client.post("/api/v1/disbursements", json=opening(allocated=amount), headers=ADMIN)
    assert answer.status_code == 422 and why in answer.text
    assert await recorder.read_all() == []


async def test_opening_answers_the_id_and_get_shows_exact_amounts_in_shanghai_time(
    client: httpx.AsyncClient,
) -> None:
    disbursement_id = await open_one(client, allocated="70000000")
    view = (await client.get(f"/api/v1/disbursements/{disbursement_id}", headers=STAFF)).json()
    assert view["allocated"] == "70000000.00" and view["credited"] == "0.00"
    assert view["status"] == "allocation_received" and view["timeline"][0]["at"].endswith("+08:00")


async def test_approval_names_the_approver_and_one_without_the_right_is_refused_with_403(
    client: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    disbursement_id = await open_one(client)
    approval = {"stage": "approved", "at": "2026-10-12T18:00:00+08:00"}
    stages = f"/api/v1/disbursements/{disbursement_id}/stages"
    for caller in (STAFF, ADMIN_CLERK):  # a staff key; a clerk whose account is the bureau admin
        refused = await client.post(stages, json=approval, headers=caller)
        assert refused.status_code == 403 and "OnlyLeadershipApproves" in refused.text
        assert "may not approve disbursements: only bureau leadership (局长, 党支部书记)" in refused.text
    assert len(await recorder.read_all()) == 2

    by_director = await client.post(
        stages, json={**approval, "at": "2026-10-12T17:00:00+08:00"}, headers=DIRECTOR
    )
    assert by_director.status_code == 201, by_director.text
    view = (await client.get(f"/api/v1/disbursements/{disbursement_id}", headers=STAFF)).json()
    assert [e.get("approver") for e in view["timeline"] if e["stage"] == "approved"] == ["周建国"]

    ok = await client.post(f"/api/v1/disbursements/{disbursement_id}/stages", json=approval, headers=ADMIN)
    assert ok.status_code == 201 and ok.json()["recorded"] == ["DisbursementStageReported"]
    view = (await client.get(f"/api/v1/disbursements/{disbursement_id}", headers=STAFF)).json()
    assert view["timeline"][-1]["approver"] == "fake-finance-admin"


async def test_an_overpayment_is_409_with_the_reason_and_appends_nothing(
    client: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    disbursement_id = await open_one(client, allocated="100.00")
    pay = {"amount": "100.01", "credited_at": "2026-10-13T10:00:00+08:00", "bank_reference": "ICBC-1"}
    answer = await client.post(f"/api/v1/disbursements/{disbursement_id}/payments", json=pay, headers=STAFF)
    assert answer.status_code == 409 and "CreditedNeverExceedsAllocated" in answer.text
    assert len(await recorder.read_all()) == 2


async def test_a_report_needing_a_reason_without_one_is_422(client: httpx.AsyncClient) -> None:
    disbursement_id = await open_one(client)
    answer = await client.post(
        f"/api/v1/disbursements/{disbursement_id}/stages",
        json={"stage": "cancelled", "at": "2026-10-13T10:00:00+08:00"},
        headers=ADMIN,
    )
    assert answer.status_code == 422 and "reason" in answer.text


async def test_another_bureaus_disbursement_is_not_found_for_reads_and_writes(
    client: httpx.AsyncClient,
) -> None:
    disbursement_id = await open_one(client)
    assert (await client.get(f"/api/v1/disbursements/{disbursement_id}", headers=OTHER)).status_code == 404
    pay = {"amount": "1.00", "credited_at": "2026-10-13T10:00:00+08:00", "bank_reference": "x"}
    written = await client.post(f"/api/v1/disbursements/{disbursement_id}/payments", json=pay, headers=OTHER)
    assert written.status_code == 404


async def test_an_idempotency_key_records_a_payment_once(
    client: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    disbursement_id = await open_one(client, allocated="100.00")
    pay = {"amount": "40.00", "credited_at": "2026-10-13T10:00:00+08:00", "bank_reference": "ICBC-9"}
    headers = {**STAFF, "Idempotency-Key": "pay-1"}
    url = f"/api/v1/disbursements/{disbursement_id}/payments"
    first, second = (
        await client.post(url, json=pay, headers=headers),
        await client.post(url, json=pay, headers=headers),
    )
    assert first.status_code == second.status_code == 201 and second.json()["replayed"]
    view = (await client.get(f"/api/v1/disbursements/{disbursement_id}", headers=STAFF)).json()
    assert view["credited"] == "40.00"
    # The answer names the payment as the timeline (and the enterprise's mail) does, the replay too
    [paid] = [e for e in view["timeline"] if e["kind"] == "payment"]
    assert first.json()["payment_id"] == second.json()["payment_id"] == paid["payment_id"] is not None


async def test_arrears_are_due_after_their_term_and_a_repayment_above_the_debt_is_409(
    client: httpx.AsyncClient,
) -> None:
    body = {
        "enterprise": {"name": "启明星辰(郑州)有限公司", "credit_code": credit_code(3)},
        "debtor": "高新区建设局",
        "purpose": "安全运维服务",
        "amount_owed": "31800000.00",
        "delivered_on": "2026-09-01",
        "agreed_term_days": 60,
    }
    created = await client.post("/api/v1/arrears", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    arrears_id = created.json()["id"]
    repaid = await client.post(
        f"/api/v1/arrears/{arrears_id}/repayments",
        json={"amount": "31800000.01", "repaid_on": "2026-10-01"},
        headers=ADMIN,
    )
    assert repaid.status_code == 409 and "RepaidNeverExceedsOwed" in repaid.text
    view = (await client.get(f"/api/v1/arrears/{arrears_id}", headers=STAFF)).json()
    assert view["due_on"] == "2026-11-02" and view["outstanding"] == "31800000.00"
    assert (await client.get(f"/api/v1/arrears/{arrears_id}", headers=OTHER)).status_code == 404


async def test_a_payment_credited_before_the_allocation_arrived_is_422_with_the_reason_and_appends_nothing(
    client: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    disbursement_id = await open_one(client, allocated="1000.00")
    pay = {"amount": "1000.00", "credited_at": "2026-10-05T10:00:00+08:00", "bank_reference": "E1"}
    url = f"/api/v1/disbursements/{disbursement_id}/payments"
    answer = await client.post(url, json=pay, headers=STAFF)
    assert answer.status_code == 422 and "allocation_received" in answer.text
    assert "StagesFollowTheirOrderInTime" in answer.text and len(await recorder.read_all()) == 2

    ok = await client.post(url, json={**pay, "credited_at": "2026-10-13T10:00:00+08:00"}, headers=STAFF)
    assert ok.status_code == 201, ok.text
    view = (await client.get(f"/api/v1/disbursements/{disbursement_id}", headers=STAFF)).json()
    assert view["status"] == "credited" and view["time_to_account"]["hours"] == 18.0


async def test_a_stage_dated_before_the_stage_it_follows_is_422(
    client: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    disbursement_id = await open_one(client)
    answer = await client.post(
        f"/api/v1/disbursements/{disbursement_id}/stages",
        json={"stage": "documents_complete", "at": "2026-10-11T09:00:00+08:00"},
        headers=ADMIN,
    )
    assert answer.status_code == 422 and "allocation_received" in answer.text
    assert len(await recorder.read_all()) == 2


async def test_a_late_allocation_dated_after_the_money_was_credited_is_422(client: httpx.AsyncClient) -> None:
    disbursement_id = await open_one(client, allocated="100.00", allocation_received_at=None)
    pay = {"amount": "100.00", "credited_at": "2026-10-13T10:00:00+08:00", "bank_reference": "E2"}
    url = f"/api/v1/disbursements/{disbursement_id}"
    assert (await client.post(f"{url}/payments", json=pay, headers=STAFF)).status_code == 201
    late = {"stage": "allocation_received", "at": "2026-10-14T10:00:00+08:00"}
    answer = await client.post(f"{url}/stages", json=late, headers=STAFF)
    assert answer.status_code == 422 and "credited" in answer.text
    in_place = await client.post(
        f"{url}/stages", json={**late, "at": "2026-10-12T10:00:00+08:00"}, headers=STAFF
    )
    assert in_place.status_code == 201, in_place.text


async def test_overdue_that_is_not_true_or_false_is_422_naming_the_parameter(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/api/v1/disbursements", params={"overdue": "yes"}, headers=STAFF)
    assert answer.status_code == 422 and "overdue" in answer.text


async def test_an_enterprise_filter_that_is_no_credit_code_is_422_never_an_empty_list(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/api/v1/disbursements", params={"enterprise": "abc"}, headers=STAFF)
    assert answer.status_code == 422 and "enterprise" in answer.text


def arrears_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "enterprise": {"name": "启明星辰(郑州)有限公司", "credit_code": credit_code(3)},
        "debtor": "高新区建设局",
        "purpose": "安全运维服务",
        "amount_owed": "100.00",
        "delivered_on": "2026-10-01",
    }
    body.update(overrides)
    return body


async def test_arrears_delivered_after_today_are_422(
    client: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    answer = await client.post("/api/v1/arrears", json=arrears_body(delivered_on="2099-01-01"), headers=ADMIN)
    assert answer.status_code == 422 and "delivered_on" in answer.text and "NoDayInTheFuture" in answer.text
    assert await recorder.read_all() == []


@pytest.mark.parametrize(
    ("repaid_on", "rule"),
    [("2020-01-01", "NoRepaymentBeforeDelivery"), ("2099-01-01", "NoDayInTheFuture")],
)
async def test_a_repayment_before_the_delivery_or_after_today_is_422(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, repaid_on: str, rule: str
) -> None:
    created = await client.post("/api/v1/arrears", json=arrears_body(), headers=ADMIN)
    assert created.status_code == 201, created.text
    answer = await client.post(
        f"/api/v1/arrears/{created.json()['id']}/repayments",
        json={"amount": "1.00", "repaid_on": repaid_on},
        headers=ADMIN,
    )
    assert answer.status_code == 422 and rule in answer.text and "repaid_on" in answer.text
    assert len(await recorder.read_all()) == 1


CASE_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "a case as intake names it"))


@pytest.mark.parametrize(
    "case_id", ["board-finance", str(uuid.uuid4()), CASE_ID.upper(), CASE_ID.replace("-", "")]
)
@pytest.mark.parametrize("path", ["/api/v1/disbursements", "/api/v1/arrears"])
async def test_a_case_id_that_is_not_shaped_like_a_case_id_is_422_and_appends_nothing(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, case_id: str, path: str
) -> None:
    body = opening(case_id=case_id) if path.endswith("disbursements") else arrears_body(case_id=case_id)
    answer = await client.post(path, json=body, headers=ADMIN)
    assert answer.status_code == 422 and "LinksOnlyToACaseId" in answer.text and "case_id" in answer.text
    assert await recorder.read_all() == []


async def a_case(recorder: InMemoryRecorder, bureau: str, enterprise: int) -> str:
    """Open a case as intake records it (CaseOpened in the event store) and return its id."""
    opened = await open_case(
        OpenCase(
            bureau=bureau,
            request=OpenCaseRequest.model_validate(case_body(enterprise)),
            source="http",
            request_ref=None,
            actor=Actor(kind="api_key", id="k1", bureau=bureau),
            correlation_id=uuid.uuid4(),
        ),
        recorder=recorder,
    )
    return opened.case_id


async def test_a_case_of_the_same_bureau_and_enterprise_is_linked(
    client: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    case_id = await a_case(recorder, "finance", 1)
    disbursement_id = await open_one(client, case_id=case_id)
    view = (await client.get(f"/api/v1/disbursements/{disbursement_id}", headers=STAFF)).json()
    assert view["case_id"] == case_id
    arrears_case = await a_case(recorder, "finance", 3)
    created = await client.post("/api/v1/arrears", json=arrears_body(case_id=arrears_case), headers=ADMIN)
    assert created.status_code == 201, created.text


@pytest.mark.parametrize("path", ["/api/v1/disbursements", "/api/v1/arrears"])
@pytest.mark.parametrize(
    ("whose", "says"),
    [
        ("no case", "names no case of your bureau"),
        ("another bureau's case of the same enterprise", "names no case of your bureau"),
        ("a case of another enterprise of the bureau", "is a case of another enterprise"),
    ],
)
async def test_a_case_id_naming_no_case_of_the_bureau_and_enterprise_is_422_and_appends_nothing(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, path: str, whose: str, says: str
) -> None:
    disbursing = path.endswith("disbursements")
    enterprise = 1 if disbursing else 3  # the enterprise each body names
    cases = {
        "no case": CASE_ID,
        "another bureau's case of the same enterprise": await a_case(recorder, "innovation", enterprise),
        "a case of another enterprise of the bureau": await a_case(recorder, "finance", 2),
    }
    before = len(await recorder.read_all())
    body = opening(case_id=cases[whose]) if disbursing else arrears_body(case_id=cases[whose])
    answer = await client.post(path, json=body, headers=ADMIN)
    assert answer.status_code == 422, answer.text
    assert "LinksOnlyToACaseOfTheSameEnterprise" in answer.text and says in answer.text
    assert len(await recorder.read_all()) == before


async def test_the_director_changes_the_settings_a_bureau_admin_clerk_does_not(
    client: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    change = {"stuck_after_workdays": 5}
    for caller in (ADMIN_CLERK, STAFF):
        refused = await client.put("/api/v1/disbursements/settings", json=change, headers=caller)
        assert refused.status_code == 403 and "may not change the bureau's settings" in refused.text
    assert await recorder.read_all() == []
    # The answer reads the settings back from a read model this unit test has no database for: what is asserted
    # is the change the director's request recorded (the gateway tests run the whole route).
    await client.put("/api/v1/disbursements/settings", json=change, headers=DIRECTOR)
    [changed] = await recorder.read_all()
    assert changed.event_type == "DisbursementSettingsChanged" and changed.actor.staff_id == "s-director"


async def test_a_viewer_account_may_not_record_money_whatever_the_post(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/v1/disbursements", json=opening(), headers=VIEWER_CHIEF)
    assert answer.status_code == 403 and "it may only read" in answer.text
