"""Kafka entry point: the case-view projection consumes case.events.v1."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from services.casequery.projections.case_view import CaseViews
from shared.contracts.envelope import EventEnvelope
from shared.contracts.topics import CASE_EVENTS
from shared.messaging.consumer import Deduplicator, ReliableSubscriber


def subscribe_case_view(
    broker: KafkaBroker, *, views: CaseViews, dedupe: Deduplicator, group: str, fetch_max_wait_ms: int
) -> ReliableSubscriber[EventEnvelope]:
    """Fold each case event into the case view, once per event id."""

    async def handle(envelope: EventEnvelope) -> bool:
        return await dedupe.once(str(envelope.event_id), lambda session: views.apply(envelope, session))

    return ReliableSubscriber(
        broker=broker,
        topic=CASE_EVENTS,
        group=group,
        model=EventEnvelope,
        handle=handle,
        fetch_max_wait_ms=fetch_max_wait_ms,
        description="Every case event (key = case id), relayed from the event store at least once.",
    )
