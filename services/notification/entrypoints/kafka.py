"""Kafka entry points: the notification policies react to case, board and calendar events."""

from __future__ import annotations

from collections.abc import Callable

from faststream.kafka import KafkaBroker

from services.notification.application.context import Notifying
from services.notification.application.react import react
from shared.contracts.envelope import EventEnvelope
from shared.contracts.topics import ASSIGNMENT_EVENTS, CALENDAR_EVENTS, CASE_EVENTS, DISBURSEMENT_EVENTS
from shared.messaging.consumer import ReliableSubscriber
from shared.messaging.pacing import FetchWait

TOPICS = {
    CASE_EVENTS: "Case events: tasks (deadlines, sections), resolution (rating link), reopening (leadership).",
    ASSIGNMENT_EVENTS: "Board events: assignments and reassignments (concierge, enterprise), queueing (leadership).",
    CALENDAR_EVENTS: "Working-day calendar: a published or corrected year moves pending reminders.",
    DISBURSEMENT_EVENTS: "Disbursements and arrears: a payment credited tells the enterprise (资金到账); a "
    "disbursement stuck in a stage and arrears near or past their due date are chased (deadline ladders).",
}


def subscribe_notifications(
    broker: KafkaBroker, *, notifying: Callable[[], Notifying], group: str, fetch_wait: FetchWait
) -> list[ReliableSubscriber[EventEnvelope]]:
    """Subscribe the notification reaction to every topic it listens to (idempotent: ids derive from events)."""

    async def handle(envelope: EventEnvelope) -> bool:
        return await react(notifying(), envelope) > 0

    return [
        ReliableSubscriber(
            broker=broker,
            topic=topic,
            group=group,
            model=EventEnvelope,
            handle=handle,
            fetch_wait=fetch_wait,
            description=description,
        )
        for topic, description in TOPICS.items()
    ]
