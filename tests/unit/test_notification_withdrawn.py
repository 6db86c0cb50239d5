"""Which of a ladder's messages are withdrawn: those of steps its new plan no longer has on their day, named by
the same cause the step recorded them under, with the event that ended them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.notification.application.withdrawal import because_of, moved_away, step_cause
from services.notification.domain.deadlines import Step, Timer
from services.notification.domain.deliveries import Status
from shared.contracts.envelope import Actor, EventEnvelope
from shared.workdays.calendar import SHANGHAI


def _local(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=SHANGHAI)


def _step(step: Step, at: datetime, fired: bool = True) -> dict:
    return {"step": step.value, "fire_at": at.astimezone(UTC), "fired_at": at if fired else None}


def test_a_step_the_new_plan_moved_to_another_day_is_withdrawn_one_kept_on_its_day_is_not():
    old = [_step(Step.STUCK, _local(12, 1)), _step(Step.STUCK_ESCALATED, _local(12, 3), fired=False)]
    # A new stage reported the same day as the old one: its reminder is the one already told.
    same_day = [Timer(Step.STUCK, _local(12, 1)), Timer(Step.STUCK_ESCALATED, _local(12, 3))]
    assert moved_away(old, same_day) == []
    later = [Timer(Step.STUCK, _local(12, 4)), Timer(Step.STUCK_ESCALATED, _local(12, 8))]
    assert [s["step"] for s in moved_away(old, later)] == ["stuck", "stuck_escalated"]


def test_the_cause_withdrawn_names_the_day_of_the_step_as_users_read_it():
    # 00:30 in Shanghai is the day before in UTC: the cause names the day as users read it.
    step = _step(Step.DUE_SOON, _local(11, 27, 0).replace(minute=30))
    cause = step_cause("case-1|t1", step)
    assert cause == "timer:case-1|t1:due_soon:2026-11-27"


def test_the_reason_names_the_event_that_ended_the_ladder():
    event_id = uuid.uuid4()
    env = EventEnvelope(
        event_id=event_id,
        event_type="ArrearsRepaid",
        schema_version=1,
        stream_id="arrears-a-1",
        stream_type="arrears",
        version=3,
        bureau="finance",
        occurred_at=_local(11, 27),
        recorded_at=_local(11, 27),
        actor=Actor(kind="service", id="test", bureau="finance"),
        correlation_id=uuid.uuid4(),
        data={},
    )
    assert because_of(env, "ladder ended (repaid)") == f"ladder ended (repaid): ArrearsRepaid {event_id} (v3)"
    assert Status("withdrawn") is Status.WITHDRAWN
