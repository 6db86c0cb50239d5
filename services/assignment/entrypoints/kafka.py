"""Kafka entry points: the assignment policies react to case events and to the board's own decisions."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from pymongo.asynchronous.collection import AsyncCollection

from services.assignment.application.boards import Boards, Cases
from services.assignment.application.calendars import Calendars
from services.assignment.application.policies import (
    assign_concierge_when_case_opened,
    recompute_due_dates_when_calendar_published,
    record_concierge_on_cases_when_assigned,
    release_concierge_when_case_resolved,
    return_case_to_concierge_when_reopened,
)
from shared.contracts.envelope import EventEnvelope
from shared.contracts.topics import ASSIGNMENT_EVENTS, CALENDAR_EVENTS, CASE_EVENTS
from shared.messaging.consumer import ReliableSubscriber


def subscribe_policies(
    broker: KafkaBroker,
    *,
    boards: Boards,
    cases: Cases,
    calendars: Calendars,
    views: AsyncCollection,
    group: str,
    fetch_max_wait_ms: int,
) -> list[ReliableSubscriber[EventEnvelope]]:
    """Subscribe the policies; each effect is an append keyed by the event, so a repeat is a no-op."""

    async def on_case_event(envelope: EventEnvelope) -> bool | None:
        if envelope.event_type == "CaseOpened":
            return await assign_concierge_when_case_opened(envelope, boards=boards, cases=cases)
        if envelope.event_type == "CaseResolved":
            return await release_concierge_when_case_resolved(envelope, boards=boards)
        if envelope.event_type == "CaseReopened":
            return await return_case_to_concierge_when_reopened(envelope, boards=boards, cases=cases)
        return None

    async def on_board_event(envelope: EventEnvelope) -> bool | None:
        return await record_concierge_on_cases_when_assigned(envelope, boards=boards, cases=cases)

    async def on_calendar_event(envelope: EventEnvelope) -> bool | None:
        return await recompute_due_dates_when_calendar_published(
            envelope, cases=cases, calendars=calendars, views=views
        )

    return [
        ReliableSubscriber(
            broker=broker,
            topic=CALENDAR_EVENTS,
            group=f"{group}-calendar",
            model=EventEnvelope,
            handle=on_calendar_event,
            fetch_max_wait_ms=fetch_max_wait_ms,
            description="A published working-day calendar year: provisional due dates are recomputed.",
        ),
        ReliableSubscriber(
            broker=broker,
            topic=CASE_EVENTS,
            group=group,
            model=EventEnvelope,
            handle=on_case_event,
            fetch_max_wait_ms=fetch_max_wait_ms,
            description="Opened, resolved and reopened cases drive concierge assignment and release.",
        ),
        ReliableSubscriber(
            broker=broker,
            topic=ASSIGNMENT_EVENTS,
            group=f"{group}-cases",
            model=EventEnvelope,
            handle=on_board_event,
            fetch_max_wait_ms=fetch_max_wait_ms,
            description="Board decisions (assigned, joined, reassigned) are written onto each case.",
        ),
    ]
