"""The dedicated concierge end to end: HTTP and events on real Tansu and SecantusDB."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.contracts.topics import CASE_EVENTS
from shared.devstack.stack import Stack
from shared.workdays.calendar import SHANGHAI
from tests.kafka_client import aproduce
from tests.support import STATUTORY_2027, case_body, credit_code, eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def bureau(stack: Stack, stack_db: AsyncDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh bureau of its own (its own board and queue) and an admin client for it."""
    bureau_id = f"b{uuid.uuid4().hex[:8]}"
    await BureauDirectory(stack_db).register(Bureau(id=bureau_id, name_zh="测试局", name_en="Test bureau"))
    key = await ApiKeyStore(stack_db).issue(bureau_id, Role.ADMIN, "assignment test")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.config.url("gateway"), headers=headers, timeout=30) as client:
        yield client


def own_prefix() -> str:
    """A 机关代字 no other test bureau holds (a prefix numbers one bureau's documents only)."""
    return "高新" + "".join("零一二三四五六七八九甲乙丙丁戊己"[int(c, 16)] for c in uuid.uuid4().hex[:8])


def today() -> str:
    return datetime.now(SHANGHAI).date().isoformat()


async def add_staff(client: httpx.AsyncClient, name: str, post: str) -> str:
    answer = await client.post("/api/v1/staff", json={"name": name, "post": post, "section": "预算科"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["detail"]["staff_id"])


async def open_case(client: httpx.AsyncClient, n: int) -> str:
    answer = await client.post("/api/v1/cases", json=case_body(n))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["case_id"])


async def concierge_of(client: httpx.AsyncClient, case_id: str) -> str:
    async def probe() -> str | None:
        answer = await client.get(f"/api/v1/cases/{case_id}")
        view = answer.json() if answer.status_code == 200 else {}
        return (view.get("concierge") or {}).get("staff_id")

    return await eventually(
        probe, 90, f"a concierge on case {case_id}"
    )  # the first case waits for every consumer group to join


async def queue(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    return list((await client.get("/api/v1/assignments/queue")).json())


async def resolve(client: httpx.AsyncClient, case_id: str) -> None:
    clarified = await client.post(
        f"/api/v1/cases/{case_id}/clarification", json={"summary": "补贴未到账", "sections": ["国库科"]}
    )
    assert clarified.status_code == 201, clarified.text
    resolved = await client.post(
        f"/api/v1/cases/{case_id}/resolution", json={"summary": "已到账", "settlement_intent": True}
    )
    assert resolved.status_code == 201, resolved.text


async def test_a_case_gets_a_management_post_concierge_and_resolution_passes_them_on(
    bureau: httpx.AsyncClient,
) -> None:
    chief = await add_staff(bureau, "王科长", "section_chief")
    await add_staff(bureau, "李经办", "clerk")
    first = await open_case(bureau, 501)
    assert await concierge_of(bureau, first) == chief
    again = await open_case(bureau, 501)  # same enterprise, still unresolved: same concierge
    waiting = await open_case(bureau, 502)
    assert await concierge_of(bureau, again) == chief
    await eventually(lambda: _queued(bureau, credit_code(502)), 30, "enterprise 502 in the queue")

    early = await bureau.post(f"/api/v1/cases/{first}/resolution", json={"summary": "x"})
    assert early.status_code == 409 and "clarify" in early.json()["detail"]
    await resolve(bureau, first)
    assert await queue(bureau)  # one of two cases resolved: the concierge is not released yet
    await resolve(bureau, again)

    assert await concierge_of(bureau, waiting) == chief
    assert await queue(bureau) == []
    [card] = [c for c in (await bureau.get("/api/v1/concierges")).json() if c["staff_id"] == chief]
    assert card["current_enterprises"] == [credit_code(502)] and card["enterprises_served"] == 2


async def test_the_six_steps_show_in_the_case_and_a_low_rating_reopens_it(bureau: httpx.AsyncClient) -> None:
    chief = await add_staff(bureau, "赵副局长", "deputy_director")
    case_id = await open_case(bureau, 503)
    await concierge_of(bureau, case_id)
    await bureau.post(
        f"/api/v1/cases/{case_id}/clarification", json={"summary": "工程审核资料", "sections": ["国库科"]}
    )
    task = await bureau.post(
        f"/api/v1/cases/{case_id}/tasks", json={"section": "国库科", "description": "审核", "working_days": 3}
    )
    assert task.status_code == 201 and task.json()["detail"]["due_at"]
    task_id = task.json()["detail"]["task_id"]
    blocked = await bureau.post(f"/api/v1/cases/{case_id}/resolution", json={"summary": "x"})
    assert blocked.status_code == 409 and task_id in blocked.json()["detail"]
    await bureau.post(f"/api/v1/cases/{case_id}/tasks/{task_id}/close", json={"outcome": "已审核"})
    await bureau.post(f"/api/v1/cases/{case_id}/procedures", json={"description": "代办账户开设"})
    await bureau.post(
        f"/api/v1/cases/{case_id}/resolution", json={"summary": "完成", "settlement_intent": True}
    )
    await bureau.post(f"/api/v1/cases/{case_id}/policies", json={"policy": "房租补贴政策"})
    rated = await bureau.post(f"/api/v1/cases/{case_id}/rating", json={"rating": 2, "comment": "太慢"})
    assert rated.json()["recorded"] == ["RatingCollected", "CaseReopened"]

    async def reopened() -> dict | None:
        view = (await bureau.get(f"/api/v1/cases/{case_id}")).json()
        return view if view["status"] == "reopened" else None

    view = await eventually(reopened, 30, "the reopened case")
    assert view["flagged_for_leadership"] and view["concierge"]["staff_id"] == chief
    assert all(
        view["steps"][s] for s in ("clarify", "coordinate", "handle", "resolve", "recommend", "review")
    )
    assert view["tasks"][0]["state"] == "closed" and view["open_tasks"] == 0


async def test_concurrent_openings_never_double_book_a_concierge(bureau: httpx.AsyncClient) -> None:
    chiefs = {await add_staff(bureau, f"科长{i}", "section_chief") for i in range(3)}
    cases = await asyncio.gather(*(open_case(bureau, 600 + i) for i in range(6)))

    async def settled() -> list | None:
        views = [(await bureau.get(f"/api/v1/cases/{c}")).json() for c in cases]
        waiting = await queue(bureau)
        assigned = [v["concierge"]["staff_id"] for v in views if v.get("concierge")]
        return [assigned, waiting] if len(assigned) + len(waiting) == 6 else None

    assigned, waiting = await eventually(settled, 60, "all six cases assigned or queued")
    assert sorted(assigned) == sorted(chiefs) and len(waiting) == 3


async def test_a_redelivered_case_opened_event_does_not_assign_twice(
    bureau: httpx.AsyncClient, stack: Stack, stack_db: AsyncDatabase
) -> None:
    await add_staff(bureau, "钱科长", "section_chief")
    await add_staff(bureau, "孙科长", "section_chief")
    case_id = await open_case(bureau, 701)
    await concierge_of(bureau, case_id)
    [opened] = (await bureau.get(f"/api/v1/cases/{case_id}/events")).json()[:1]
    bureau_id = opened["bureau"]
    board_events = await stack_db.events.count_documents({"stream_id": f"board-{bureau_id}"})

    async def duplicates_seen() -> int:
        async with httpx.AsyncClient() as http:
            health = (await http.get(f"{stack.config.url('assignment')}/healthz")).json()
        [case_events] = [c for c in health["subscribers"] if c["topic"] == CASE_EVENTS]
        return int(case_events["consumer"]["duplicates"])

    before = await duplicates_seen()
    await aproduce(
        stack.config.bootstrap, CASE_EVENTS, [json.dumps(opened).encode()] * 2, key=case_id.encode()
    )
    await eventually(
        lambda: _at_least(duplicates_seen(), before + 2), 30, "both copies handled as duplicates"
    )

    assert await stack_db.events.count_documents({"stream_id": f"board-{bureau_id}"}) == board_events


async def _queued(client: httpx.AsyncClient, code: str) -> bool:
    return any(w["credit_code"] == code for w in await queue(client))


async def _at_least(value: Any, expected: int) -> bool:
    return bool(await value >= expected)


async def test_a_published_notice_is_regenerated_identically_after_the_board_moved_on(
    bureau: httpx.AsyncClient,
) -> None:
    import hashlib

    await add_staff(bureau, "周科长", "section_chief")
    await add_staff(bureau, "吴科长", "section_chief")
    cases = [await open_case(bureau, 900 + i) for i in range(2)]
    for case_id in cases:
        await concierge_of(bureau, case_id)

    prefix, year = own_prefix(), today()[:4]
    taken = await bureau.post("/api/v1/notices", json={"number_prefix": "高新财金"})
    assert taken.status_code == 409 and "财政金融局" in taken.text  # the finance bureau's own
    backdated = await bureau.post(
        "/api/v1/notices", json={"number_prefix": prefix, "issued_on": "2026-10-08"}
    )
    assert (
        backdated.status_code == 409 and "成文日期不能早于" in backdated.text
    )  # it lists today's assignments
    answer = await bureau.post("/api/v1/notices", json={"number_prefix": prefix, "issued_on": today()})
    assert answer.status_code == 201, answer.text
    notice = answer.json()
    assert notice["document_number"] == f"{prefix}〔{year}〕1号" and notice["enterprises"] == 2

    await resolve(bureau, cases[0])  # the board moves on after publishing
    for kind, digest in (("pdf", notice["pdf_sha256"]), ("docx", notice["docx_sha256"])):
        document = await bureau.get(f"/api/v1/notices/{notice['notice_id']}/document.{kind}")
        assert document.status_code == 200
        assert hashlib.sha256(document.content).hexdigest() == digest
    pdf = await bureau.get(f"/api/v1/notices/{notice['notice_id']}/document.pdf")
    assert pdf.content.startswith(b"%PDF") and "filename*=UTF-8''" in pdf.headers["content-disposition"]

    async def released() -> bool:
        return (
            len([c for c in (await bureau.get("/api/v1/concierges")).json() if c["current_enterprises"]]) == 1
        )

    await eventually(released, 30, "the first concierge released")
    second = (await bureau.post("/api/v1/notices", json={"number_prefix": prefix})).json()
    assert second["document_number"] == f"{prefix}〔{year}〕2号" and second["enterprises"] == 1
    listed = (await bureau.get("/api/v1/notices")).json()
    assert [n["document_number"] for n in listed] == [f"{prefix}〔{year}〕1号", f"{prefix}〔{year}〕2号"]


async def test_a_notice_prints_rare_name_characters_and_refuses_only_what_no_font_draws(
    bureau: httpx.AsyncClient,
) -> None:
    import pypdfium2 as pdfium

    await add_staff(bureau, "刘䶮", "section_chief")  # 䶮: CJK Extension A, as in real people's names
    body = case_body(950, enterprise={"name": "㛃记科技有限公司", "credit_code": credit_code(950)})
    case = await bureau.post("/api/v1/cases", json=body)
    assert case.status_code == 201, case.text
    await concierge_of(bureau, case.json()["case_id"])

    prefix = own_prefix()
    refused = await bureau.post("/api/v1/notices", json={"title": "关于𠀾的通知", "number_prefix": prefix})
    assert refused.status_code == 422 and "𠀾" in refused.text, refused.text
    answer = await bureau.post(
        "/api/v1/notices", json={"title": "关于刘䶮同志的通知", "number_prefix": prefix}
    )
    assert answer.status_code == 201, answer.text

    pdf = await bureau.get(f"/api/v1/notices/{answer.json()['notice_id']}/document.pdf")
    assert pdf.status_code == 200
    document = pdfium.PdfDocument(pdf.content)
    text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    assert "关于刘䶮同志的通知" in text and "㛃记科技有限公司" in text and "刘䶮" in text


async def test_publishing_next_years_calendar_recomputes_provisional_due_dates(
    bureau: httpx.AsyncClient, stack: Stack
) -> None:
    await add_staff(bureau, "郑科长", "section_chief")
    case_id = await open_case(bureau, 950)
    await concierge_of(bureau, case_id)
    await bureau.post(
        f"/api/v1/cases/{case_id}/clarification", json={"summary": "跨年任务", "sections": ["国库科"]}
    )
    # 60 working days from late 2026 always reach into 2027, which is not published yet.
    opened = await bureau.post(
        f"/api/v1/cases/{case_id}/tasks",
        json={"section": "国库科", "description": "跨年", "working_days": 60},
    )
    assert opened.json()["detail"]["due_provisional"] is True
    before = (await bureau.get("/api/v1/calendar/2027")).json()

    refused = await bureau.put("/api/v1/calendar/2027", json={"holidays": ["2027-01-01"]})
    assert refused.status_code == 403  # a bureau admin may not change every bureau's calendar
    operator = {"Authorization": f"Bearer {stack.credentials['operator']}"}
    wrong = await bureau.put("/api/v1/calendar/2027", json={"holidays": ["2026-12-31"]}, headers=operator)
    assert wrong.status_code == 422 and "outside 2027" in wrong.text
    spring = sorted({*STATUTORY_2027, *(f"2027-02-{d:02d}" for d in range(5, 13)), "2027-01-04"})
    published = await bureau.put(
        "/api/v1/calendar/2027",
        json={"holidays": spring, "makeup_workdays": ["2027-02-20"], "source": "测试"},
        headers=operator,
    )
    assert published.status_code == 201, published.text
    assert published.json()["version"] == before["version"] + 1
    now_in_force = (await bureau.get("/api/v1/calendar/2027")).json()
    assert now_in_force["provisional"] is False and "2027-01-04" in now_in_force["holidays"]

    async def recomputed() -> dict | None:
        task = (await bureau.get(f"/api/v1/cases/{case_id}")).json()["tasks"][0]
        return task if task.get("due_history") else None

    task = await eventually(recomputed, 30, "the provisional due date recomputed")
    assert task["due_provisional"] is False
    assert task["due_history"][0]["provisional"] is True
    assert task["due_at"] != task["due_history"][0]["due_at"]
