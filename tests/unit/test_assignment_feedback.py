"""The enterprise's own rating (评菜, through its link) is recorded on the case by the casework rule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.assignment.application.boards import Cases
from services.assignment.application.feedback import record_the_enterprises_rating_on_its_case
from shared.contracts.casework import CaseResolved, ProblemClarified
from shared.contracts.envelope import Actor, EventEnvelope
from shared.eventstore.memory import InMemoryRecorder
from tests.unit.test_assignment_support import open_case, record

ENTERPRISE_ACTOR = Actor(kind="enterprise", id="91440400MA4UJ1XQ18", bureau="finance", name="格力电器")


def rated(case_id: str, rating: int, token_id: str = "t1") -> EventEnvelope:
    """The enterprise's rating through the link of the resolution whose CaseResolved event id is `token_id`."""
    now = datetime.now(UTC)
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type="EnterpriseRatedService",
        schema_version=1,
        stream_id=f"feedback-{token_id}",
        stream_type="feedback",
        version=1,
        bureau="finance",
        occurred_at=now,
        recorded_at=now,
        actor=ENTERPRISE_ACTOR,
        correlation_id=uuid.uuid4(),
        data={"case_id": case_id, "token_id": token_id, "rating": rating, "comment": "太慢"},
    )


async def _resolved_case(recorder: InMemoryRecorder) -> tuple[str, str]:
    """A resolved case, and its rating link's token id (the CaseResolved event id, as the notification's)."""
    await open_case(recorder, "case-1", "finance", 1)
    steps = [
        ProblemClarified(summary="拨付进度", sections=["规划科"]),
        CaseResolved(summary="已到账", settlement_intent=True),
    ]
    await record(recorder, "case-1", "finance", steps)
    resolution = (await recorder.read_stream("case-1"))[-1]
    return "case-1", resolution.event_id.hex


async def test_a_low_rating_through_the_link_reopens_the_case_and_names_the_enterprise() -> None:
    recorder = InMemoryRecorder()
    case_id, token_id = await _resolved_case(recorder)
    event = rated(case_id, 1, token_id)
    assert await record_the_enterprises_rating_on_its_case(event, cases=Cases(recorder))
    events = await recorder.read_stream(case_id)
    assert [e.event_type for e in events[-2:]] == ["RatingCollected", "CaseReopened"]
    assert events[-1].actor.kind == "enterprise" and events[-1].causation_id == event.event_id
    # Delivered again: the resolution is rated already, nothing more is recorded.
    assert not await record_the_enterprises_rating_on_its_case(event, cases=Cases(recorder))
    assert len(await recorder.read_stream(case_id)) == len(events)


async def test_a_rating_of_another_bureaus_case_or_of_an_unresolved_case_records_nothing() -> None:
    recorder = InMemoryRecorder()
    await open_case(recorder, "case-2", "innovation", 2)  # the link says finance: not its case
    assert not await record_the_enterprises_rating_on_its_case(rated("case-2", 5), cases=Cases(recorder))
    await open_case(recorder, "case-3", "finance", 3)  # not resolved: no rating yet
    assert not await record_the_enterprises_rating_on_its_case(rated("case-3", 5), cases=Cases(recorder))
    assert len(await recorder.read_stream("case-2")) == len(await recorder.read_stream("case-3")) == 1


async def test_a_rating_through_the_link_of_an_earlier_resolution_records_nothing() -> None:
    # Resolved, rated low (reopened), resolved again: the first link's rating must not rate the second.
    recorder = InMemoryRecorder()
    case_id, first = await _resolved_case(recorder)
    assert await record_the_enterprises_rating_on_its_case(rated(case_id, 1, first), cases=Cases(recorder))
    await record(recorder, case_id, "finance", [CaseResolved(summary="补齐", settlement_intent=True)])
    late = rated(case_id, 5, first)
    assert not await record_the_enterprises_rating_on_its_case(late, cases=Cases(recorder))
    assert (await recorder.read_stream(case_id))[-1].event_type == "CaseResolved"
