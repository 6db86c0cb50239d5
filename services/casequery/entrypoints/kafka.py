"""Kafka entry points: the case view consumes case.events.v1; the case stories consume assignment.events.v1;
the case's money consumes disbursement.events.v1."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from services.casequery.projections.case_view import CaseViews
from services.casequery.projections.money import DISBURSEMENT_STREAM
from services.casequery.projections.money_store import CaseMoney
from services.casequery.projections.story_store import CaseStories
from shared.contracts.envelope import EventEnvelope
from shared.contracts.topics import ASSIGNMENT_EVENTS, CASE_EVENTS, DISBURSEMENT_EVENTS
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


def subscribe_case_stories(
    broker: KafkaBroker, *, stories: CaseStories, dedupe: Deduplicator, group: str, fetch_max_wait_ms: int
) -> ReliableSubscriber[EventEnvelope]:
    """Fold each assignment board event into the stories of the cases it concerns, once per event id."""

    async def handle(envelope: EventEnvelope) -> bool | None:
        if envelope.stream_type != "board":
            return None  # not a board event: nothing to tell
        return await dedupe.once(str(envelope.event_id), lambda session: stories.apply(envelope, session))

    return ReliableSubscriber(
        broker=broker,
        topic=ASSIGNMENT_EVENTS,
        group=group,
        model=EventEnvelope,
        handle=handle,
        fetch_max_wait_ms=fetch_max_wait_ms,
        description="Every assignment board event (key = board-<bureau>): decisions explained on the case.",
    )


def subscribe_case_money(
    broker: KafkaBroker, *, money: CaseMoney, dedupe: Deduplicator, group: str, fetch_max_wait_ms: int
) -> ReliableSubscriber[EventEnvelope]:
    """Fold each disbursement event into the money of the case it is linked to, once per event id."""

    async def handle(envelope: EventEnvelope) -> bool | None:
        if envelope.stream_type != DISBURSEMENT_STREAM:
            return None  # arrears and settings share the topic: nothing a case shows
        return await dedupe.once(str(envelope.event_id), lambda session: money.apply(envelope, session))

    return ReliableSubscriber(
        broker=broker,
        topic=DISBURSEMENT_EVENTS,
        group=group,
        model=EventEnvelope,
        handle=handle,
        fetch_max_wait_ms=fetch_max_wait_ms,
        description="Every disbursement event (key = disbursement-<id>): the money of the case it is linked to.",
    )
