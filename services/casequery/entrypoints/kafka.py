"""Kafka entry points: the case view consumes case.events.v1; the case stories consume assignment.events.v1;
the case's money consumes disbursement.events.v1.

Each consumes in batches and writes a batch's effects in bulk. No processed-message marker or transaction:
every write is guarded by the stream version, so a redelivered or replayed event changes nothing.
"""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from services.casequery.projections.case_view import CaseViews
from services.casequery.projections.money import DISBURSEMENT_STREAM
from services.casequery.projections.money_store import CaseMoney
from services.casequery.projections.story_store import CaseStories
from shared.contracts.envelope import EventEnvelope
from shared.contracts.topics import ASSIGNMENT_EVENTS, CASE_EVENTS, DISBURSEMENT_EVENTS
from shared.messaging.batches import BatchSubscriber
from shared.messaging.pacing import FetchWait


def subscribe_case_view(
    broker: KafkaBroker,
    *,
    views: CaseViews,
    group: str,
    fetch_wait: FetchWait,
) -> BatchSubscriber[EventEnvelope]:
    """Fold each batch of case events into the case views (guarded by version: a repeat changes nothing)."""

    async def handle(envelopes: list[EventEnvelope]) -> int:
        await views.apply_batch(envelopes)
        return len(envelopes)

    return BatchSubscriber(
        broker=broker,
        topic=CASE_EVENTS,
        group=group,
        model=EventEnvelope,
        handle=handle,
        fetch_wait=fetch_wait,
        description="Every case event (key = case id), relayed from the event store at least once.",
    )


def subscribe_case_stories(
    broker: KafkaBroker,
    *,
    stories: CaseStories,
    group: str,
    fetch_wait: FetchWait,
) -> BatchSubscriber[EventEnvelope]:
    """Fold each batch of assignment board events into the stories of the cases they concern."""

    async def handle(envelopes: list[EventEnvelope]) -> int:
        boards = [e for e in envelopes if e.stream_type == "board"]  # others: nothing to tell
        if boards:
            await stories.apply_batch(boards)
        return len(boards)

    return BatchSubscriber(
        broker=broker,
        topic=ASSIGNMENT_EVENTS,
        group=group,
        model=EventEnvelope,
        handle=handle,
        fetch_wait=fetch_wait,
        description="Every assignment board event (key = board-<bureau>): decisions explained on the case.",
    )


def subscribe_case_money(
    broker: KafkaBroker,
    *,
    money: CaseMoney,
    group: str,
    fetch_wait: FetchWait,
) -> BatchSubscriber[EventEnvelope]:
    """Fold each batch of disbursement events into the money of the cases they are linked to."""

    async def handle(envelopes: list[EventEnvelope]) -> int:
        linked = [e for e in envelopes if e.stream_type == DISBURSEMENT_STREAM]  # not arrears or settings
        if linked:
            await money.apply_batch(linked)
        return len(linked)

    return BatchSubscriber(
        broker=broker,
        topic=DISBURSEMENT_EVENTS,
        group=group,
        model=EventEnvelope,
        handle=handle,
        fetch_wait=fetch_wait,
        description="Every disbursement event (key = disbursement-<id>): the money of the case it is linked to.",
    )
