"""A notice's 机关代字 is its bureau's own, and its 成文日期 is not earlier than an assignment it lists."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from services.assignment.adapters.notice_prefixes import MemoryNoticePrefixes
from services.assignment.application import notices as notice_use_cases
from services.assignment.application.boards import board_stream
from services.assignment.application.policies import assign_concierge_when_case_opened
from shared.auth.keys import Bureau
from shared.eventstore.memory import InMemoryRecorder
from shared.workdays.calendar import SHANGHAI
from tests.unit.test_assignment_support import app_with, auth, open_case

FINANCE, INNOVATION = auth("finance-admin"), auth("innovation-admin")
BUREAUS = {
    "finance": Bureau(id="finance", name_zh="财政金融局", name_en="Finance Bureau"),
    "innovation": Bureau(id="innovation", name_zh="创新发展局", name_en="Innovation Bureau"),
}


class Directory:
    """Both demo bureaus, by name."""

    async def get(self, bureau_id: str) -> Bureau | None:
        return BUREAUS.get(bureau_id)

    async def all(self) -> list[Bureau]:
        return list(BUREAUS.values())


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
def app(recorder: InMemoryRecorder) -> FastAPI:
    app = app_with(recorder)
    app.state.bureaus = Directory()
    return app


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as client:
        yield client


async def notices(recorder: InMemoryRecorder, bureau: str) -> list[str]:
    events = await recorder.read_stream(board_stream(bureau))
    return [e.data["document_number"] for e in events if e.event_type == "NoticePublished"]


async def test_a_bureau_cannot_number_its_notice_under_another_bureaus_prefix(http, recorder) -> None:
    other_default = await http.post("/api/v1/notices", json={"number_prefix": "高新财金"}, headers=INNOVATION)
    assert other_default.status_code == 409, other_default.text
    assert "高新财金" in other_default.json()["detail"] and "财政金融局" in other_default.json()["detail"]
    assert await notices(recorder, "innovation") == []

    own = await http.post("/api/v1/notices", json={"number_prefix": "高新创新函"}, headers=INNOVATION)
    assert own.status_code == 201 and own.json()["document_number"].startswith("高新创新函〔")
    taken = await http.post("/api/v1/notices", json={"number_prefix": "高新创新函"}, headers=FINANCE)
    assert taken.status_code == 409 and "创新发展局" in taken.json()["detail"]  # first to number it holds it
    assert (
        await http.post("/api/v1/notices", json={}, headers=FINANCE)
    ).status_code == 201  # its own default
    assert [n[:4] for n in await notices(recorder, "finance")] == ["高新财金"]


async def test_a_notice_is_not_dated_before_an_assignment_it_lists(app, http, recorder) -> None:
    staff = {"name": "王科长", "post": "section_chief", "section": "预算科"}
    assert (await http.post("/api/v1/staff", json=staff, headers=FINANCE)).status_code == 201
    opened = await open_case(recorder, "c1", "finance", 1)
    assert await assign_concierge_when_case_opened(opened, boards=app.state.boards, cases=app.state.cases)
    today = datetime.now(SHANGHAI).date()

    backdated = await http.post(
        "/api/v1/notices", json={"issued_on": (today - timedelta(days=1)).isoformat()}, headers=FINANCE
    )

    assert backdated.status_code == 409, backdated.text
    assert (
        "成文日期不能早于该日" in backdated.json()["detail"]
        and today.isoformat() in backdated.json()["detail"]
    )
    assert await notices(recorder, "finance") == []
    dated_today = await http.post("/api/v1/notices", json={"issued_on": today.isoformat()}, headers=FINANCE)
    assert dated_today.status_code == 201 and dated_today.json()["enterprises"] == 1


async def test_a_refused_notice_leaves_its_prefix_unclaimed(app, http, recorder) -> None:
    staff = {"name": "王科长", "post": "section_chief", "section": "预算科"}
    assert (await http.post("/api/v1/staff", json=staff, headers=INNOVATION)).status_code == 201
    opened = await open_case(recorder, "c1", "innovation", 1)
    assert await assign_concierge_when_case_opened(opened, boards=app.state.boards, cases=app.state.cases)

    backdated = await http.post(
        "/api/v1/notices", json={"number_prefix": "高新联合", "issued_on": "2026-01-05"}, headers=INNOVATION
    )

    assert backdated.status_code == 409 and "成文日期" in backdated.text
    finance = await http.post("/api/v1/notices", json={"number_prefix": "高新联合"}, headers=FINANCE)
    assert finance.status_code == 201, finance.text  # the refused notice claimed nothing


async def test_a_prefix_another_bureau_numbered_before_claims_were_kept_stays_its_own(
    app, http, recorder
) -> None:
    # As an older version recorded it: finance's notice under 高新旧文, with no claim kept.
    older = await http.post("/api/v1/notices", json={"number_prefix": "高新旧文"}, headers=FINANCE)
    assert older.status_code == 201
    app.state.notice_prefixes = MemoryNoticePrefixes()

    taken = await http.post("/api/v1/notices", json={"number_prefix": "高新旧文"}, headers=INNOVATION)

    assert taken.status_code == 409 and "财政金融局" in taken.json()["detail"]
    again = await http.post("/api/v1/notices", json={"number_prefix": "高新旧文"}, headers=FINANCE)
    assert again.status_code == 201 and again.json()["document_number"].endswith("2号")


async def test_a_prefix_a_bureau_holds_stays_its_own_when_a_new_bureau_has_it_as_default(
    http, monkeypatch
) -> None:
    held = await http.post("/api/v1/notices", json={"number_prefix": "高新规建"}, headers=FINANCE)
    assert held.status_code == 201
    planning = Bureau(id="planning", name_zh="规划建设局", name_en="Planning Bureau")  # onboarded later
    monkeypatch.setitem(BUREAUS, "planning", planning)

    own_default = await http.post("/api/v1/notices", json={}, headers=auth("planning-admin"))
    again = await http.post("/api/v1/notices", json={"number_prefix": "高新规建"}, headers=FINANCE)

    assert own_default.status_code == 409 and "财政金融局" in own_default.json()["detail"]  # it picks its own
    assert again.status_code == 201 and again.json()["document_number"].endswith("2号")  # not locked out


async def test_a_claim_left_by_a_publish_cut_off_passes_on_once_it_is_old(app, http, monkeypatch) -> None:
    # As a crash between the claim and the notice leaves it: innovation holds 高新遗留 with nothing under it.
    await app.state.notice_prefixes.claim("高新遗留", "innovation")
    fresh = await http.post("/api/v1/notices", json={"number_prefix": "高新遗留"}, headers=FINANCE)
    assert fresh.status_code == 409  # a publish of innovation's may still be under way

    monkeypatch.setattr(notice_use_cases, "ORPHANED_AFTER", timedelta(0))  # long enough ago
    taken = await http.post("/api/v1/notices", json={"number_prefix": "高新遗留"}, headers=FINANCE)

    assert taken.status_code == 201, taken.text
    refused = await http.post("/api/v1/notices", json={"number_prefix": "高新遗留"}, headers=INNOVATION)
    assert (
        refused.status_code == 409 and "财政金融局" in refused.json()["detail"]
    )  # finance numbers under it now
