"""Assignment's own case summaries: fed by the case events it sees, caught up from the store, replay-proof."""

from __future__ import annotations

from datetime import datetime

import httpx

from services.assignment.entrypoints.kafka import board_event_handler, case_event_handler
from services.assignment.projections.case_summaries import InMemoryCaseSummaries
from shared.contracts.casework import CoordinationTaskOpened, ProblemClarified
from shared.eventstore.memory import InMemoryRecorder
from shared.workdays.calendar import SHANGHAI
from tests.unit.test_assignment_support import app_with, auth, open_case, record

OPENED = datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI)
DUE = datetime(2026, 10, 13, 23, 59, 59, tzinfo=SHANGHAI)


async def test_statistics_and_workload_come_from_the_events_assignment_saw() -> None:
    recorder = InMemoryRecorder()
    app = app_with(recorder)
    state = app.state
    handlers = {
        "case": case_event_handler(
            boards=state.boards, cases=state.cases, calendars=state.calendars, summaries=state.summaries
        ),
        "board": board_event_handler(boards=state.boards, cases=state.cases),
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as http:
        staff = {"name": "王科长", "post": "section_chief", "section": "预算科"}
        await http.post("/api/v1/staff", json=staff, headers=auth("finance-admin"))
        await open_case(recorder, "c1", "finance", 1)
        for envelope in await recorder.read_all():
            await handlers[envelope.stream_type](envelope)
        await http.post(
            "/api/v1/cases/c1/clarification",
            json={"summary": "x", "sections": ["国库科"]},
            headers=auth("finance-admin"),
        )
        task = {"section": "国库科", "description": "拨付", "working_days": 3}
        await http.post("/api/v1/cases/c1/tasks", json=task, headers=auth("finance-admin"))
        for envelope in (await recorder.read_stream("c1"))[-2:]:
            await handlers["case"](envelope)

        figures = (await http.get("/api/v1/statistics", headers=auth("finance-staff"))).json()
        [card] = (await http.get("/api/v1/concierges", headers=auth("finance-staff"))).json()

    assert (figures["cases_total"], figures["open_tasks"], figures["enterprises_in_resolution"]) == (1, 1, 1)
    assert figures["cases_by_status"] == {"in_progress": 1}
    assert (card["open_tasks"], card["overdue_tasks"]) == (1, 0)


async def test_a_summary_reads_missed_events_from_the_store_and_ignores_replays() -> None:
    recorder = InMemoryRecorder()
    summaries = InMemoryCaseSummaries(recorder)
    opened = await open_case(recorder, "c1", "finance", 1)
    await record(recorder, "c1", "finance", [ProblemClarified(summary="x", sections=["国库科"])])
    task = CoordinationTaskOpened(
        task_id="t1",
        section="国库科",
        description="拨付",
        working_days=3,
        opened_at=OPENED,
        due_at=DUE,
        due_provisional=False,
    )
    [last] = await record(recorder, "c1", "finance", [task])

    await summaries.fold(last)  # CaseOpened and ProblemClarified never delivered: read from the store
    await summaries.fold(opened)  # a late replay of the first event changes nothing

    summary = summaries.summaries["c1"]
    assert (summary["version"], summary["open_tasks"], summary["status"]) == (3, 1, "open")
    assert [c async for c in summaries.cases()] == [("c1", "finance")]
    await summaries.fold(last)
    assert summaries.summaries["c1"]["version"] == 3
