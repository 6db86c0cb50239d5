"""Kafka entry points: the notification policies react to case, board, calendar, money and rules events.

Each topic is consumed in batches: the events of a poll are handled in order, one after the other, and the
offsets committed once for the batch. Every reaction is idempotent (folds are guarded by the stream version,
delivery ids derive from the event), so a batch that comes again, or is split to isolate a poison event,
tells nobody twice.
"""

from __future__ import annotations

from collections.abc import Callable

from faststream.kafka import KafkaBroker

from services.notification.application.context import Notifying
from services.notification.application.react import react
from shared.contracts.envelope import EventEnvelope
from shared.contracts.topics import (
    ASSIGNMENT_EVENTS,
    CALENDAR_EVENTS,
    CASE_EVENTS,
    DISBURSEMENT_EVENTS,
    NOTIFICATION_EVENTS,
)
from shared.messaging.batches import BatchSubscriber
from shared.messaging.pacing import FetchWait

# One consumer group per topic (`<group>` for case events, `<group>-<suffix>` for the others). Members of one
# group that subscribe to different topics get their partitions from whichever member leads the group, and
# each joining makes the others rejoin.
GROUP_SUFFIXES = {
    CASE_EVENTS: "",
    ASSIGNMENT_EVENTS: "-board",
    CALENDAR_EVENTS: "-calendar",
    DISBURSEMENT_EVENTS: "-money",
    NOTIFICATION_EVENTS: "-rules",
}

TOPICS = {
    CASE_EVENTS: "Case events: tasks (deadlines, sections), resolution (rating link), reopening (leadership).",
    ASSIGNMENT_EVENTS: "Board events: assignments and reassignments (concierge, enterprise), queueing (leadership).",
    CALENDAR_EVENTS: "Working-day calendar: a published or corrected year moves pending reminders.",
    DISBURSEMENT_EVENTS: "Disbursements and arrears: a payment credited tells the enterprise (资金到账); a "
    "disbursement stuck in a stage and arrears near or past their due date are chased (deadline ladders).",
    NOTIFICATION_EVENTS: "Escalation rules: a bureau's changed ladder moves its open deadlines (with the rules in "
    "force; supervision orders and ratings on this topic are not acted on here).",
}


def subscribe_notifications(
    broker: KafkaBroker, *, notifying: Callable[[], Notifying], group: str, fetch_wait: FetchWait
) -> list[BatchSubscriber[EventEnvelope]]:
    """Subscribe the notification reaction to each topic it listens to, each in a group of its own."""

    async def handle(envelopes: list[EventEnvelope]) -> int:
        n = notifying().for_one_batch()
        told = 0
        for envelope in envelopes:
            told += await react(n, envelope) > 0
        return told  # events that added a delivery; the rest were repeats or told nobody

    return [
        BatchSubscriber(
            broker=broker,
            topic=topic,
            group=group + GROUP_SUFFIXES[topic],
            model=EventEnvelope,
            handle=handle,
            fetch_wait=fetch_wait,
            description=description,
        )
        for topic, description in TOPICS.items()
    ]
