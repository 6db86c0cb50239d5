"""Batch consumption: the effects of a whole poll written together, a poison record isolated and dead-lettered.

For projections whose writes are idempotent by themselves (guarded by the stream version), so they need no
processed-message marker or transaction: a batch that comes again changes nothing. A batch is handled in one go;
if that fails for a reason another try cannot fix, it is split and each record is handled alone with the usual
retries, so the good records apply (once) and only the bad one goes to the dead-letter topic with the reason.
Offsets are committed after the whole batch; an outage rewinds every partition of the batch (NACK_ON_ERROR).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel

from shared.json_keys import parse_unique
from shared.messaging.consumer import (
    ConsumerStats,
    PoisonMessage,
    RetryPolicy,
    SubscriberHealth,
    is_transient,
)
from shared.messaging.dead_letters import dead_letter, problems_of
from shared.messaging.kafka import UnreadableHeaders
from shared.messaging.pacing import FetchPacer, FetchWait
from shared.messaging.unreadable_records import UnreadableRecords, positions
from shared.metrics import record_consumed

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
MAX_RECORDS = 500  # per poll: bounds memory and the size of one bulk write
# How long one poll waits for records (the fetch from the broker runs apart). A poll returns as soon as records
# are fetched, so a longer wait adds no latency; it only makes an idle consumer turn less often.
POLL_TIMEOUT_MS = 100


@dataclass
class Handled:
    """What a batch handler did with its records: acted on them, found them done already, or had no use for them."""

    acted: int = 0
    duplicates: int = 0
    ignored: int = 0

    def count(self, outcome: bool | None) -> None:
        """Count one record as a single-message handler reports it: True acted, False a repeat, None ignored."""
        if outcome is None:
            self.ignored += 1
        elif outcome:
            self.acted += 1
        else:
            self.duplicates += 1

    def __add__(self, other: Handled) -> Handled:
        return Handled(
            self.acted + other.acted, self.duplicates + other.duplicates, self.ignored + other.ignored
        )


def _as_handled(result: int | Handled) -> Handled:
    return result if isinstance(result, Handled) else Handled(acted=result)


class BatchSubscriber(SubscriberHealth, Generic[M]):
    """Subscribes a batch handler to a topic with validation, bulk effects, retries and per-record dead-lettering."""

    def __init__(
        self,
        *,
        broker: KafkaBroker,
        topic: str,
        group: str,
        model: type[M],
        handle: Callable[[list[M]], Awaitable[int | Handled]],
        fetch_wait: FetchWait,
        retry: RetryPolicy | None = None,
        max_records: int = MAX_RECORDS,
        description: str = "",
    ) -> None:
        self._broker, self._topic, self._group, self._model = broker, topic, group, model
        # Returns how many of the records it acted on (the rest were not its business), or a Handled count.
        self._handle = handle
        self._retry = retry or RetryPolicy()
        self._valid: dict[int, list[tuple[Any, M]]] = {}
        self._headers = UnreadableHeaders()
        self.stats = ConsumerStats()

        async def on_batch(body: list[Any], message: KafkaMessage) -> None:
            await self._on_batch(message)

        on_batch.__annotations__["body"] = list[model]  # type: ignore[valid-type]
        on_batch.__name__ = f"{group}_{topic.replace('.', '_')}"
        self.subscriber = broker.subscriber(
            topic,
            group_id=group,
            batch=True,
            max_records=max_records,
            batch_timeout_ms=POLL_TIMEOUT_MS,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=fetch_wait.idle,  # until the first record: see FetchPacer
            parser=self._headers.parse,  # one record's bad header must not cost the whole poll
            decoder=self._decode,
            title=f"{topic}:{group}",
            description=description or None,
        )
        self.subscriber(on_batch)
        unreadable = UnreadableRecords(broker, group, self.stats)
        poll_without_idle_sleep(self.subscriber, POLL_TIMEOUT_MS, max_records, unreadable)
        self.pacer = FetchPacer(fetch_wait, self.subscriber)

    async def _decode(self, message: KafkaMessage, _default: Any) -> Any:
        self.pacer.saw_records()
        # Validate each record here: an invalid one goes to the DLQ now and never reaches the handler.
        valid: list[tuple[Any, M]] = []
        for record in message.raw_message:
            if problem := self._headers.problem(message, record):
                await self._dead_letter(record, problem)
                continue
            try:
                valid.append((record, parse_unique(self._model, record.value or b"")))
            except Exception as exc:
                await self._dead_letter(record, f"invalid {self._model.__name__}: {problems_of(exc)}")
        self._valid[id(message.raw_message)] = valid
        return [item.model_dump(mode="json") for _, item in valid]

    async def _on_batch(self, message: KafkaMessage) -> None:
        valid = self._valid.pop(id(message.raw_message), [])
        if not valid:
            return
        started = time.perf_counter()
        items = [item for _, item in valid]
        dead_before = self.stats.dead_lettered
        try:
            done = await self._until_done(items, whole_batch=True)
        except _SplitBatch as split:
            log.warning("%s: a batch of %d failed (%s); one by one now", self._group, len(items), split)
            done = Handled()
            for record, item in valid:
                done += await self._alone(record, item)
        self.stats.handled += done.acted
        self.stats.duplicates += done.duplicates
        self.stats.ignored += (
            len(items) - done.acted - done.duplicates - (self.stats.dead_lettered - dead_before)
        )
        seconds = (time.perf_counter() - started) / len(valid)
        for record, _ in valid:
            record_consumed(
                record.topic, self._group, record.partition, record.offset, self._highwater(record), seconds
            )

    async def _alone(self, record: Any, item: M) -> Handled:
        try:
            return await self._until_done([item], whole_batch=False)
        except _SplitBatch as failure:
            await self._dead_letter(record, str(failure))
            return Handled()

    async def _dead_letter(self, record: Any, reason: str) -> None:
        await dead_letter(self._broker, record, reason, self._group)
        self.stats.dead_lettered += 1

    async def _until_done(self, items: Sequence[M], *, whole_batch: bool) -> Handled:
        """Handle items, retrying transient failures without end; raise _SplitBatch when retrying cannot help."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return _as_handled(await self._handle(list(items)))
            except PoisonMessage as exc:
                raise _SplitBatch(str(exc)) from exc
            except Exception as exc:
                if not is_transient(exc) and (whole_batch or attempt >= self._retry.max_attempts):
                    if not whole_batch:
                        log.exception("%s: giving up after %d attempts", self._group, attempt)
                    raise _SplitBatch(
                        f"failed after {attempt} attempts: {type(exc).__name__}: {exc}"
                    ) from exc
                log.warning("%s: %s (%s), attempt %d", self._group, type(exc).__name__, exc, attempt)
            self.stats.retries += 1
            await asyncio.sleep(self._retry.delay(attempt))


def poll_without_idle_sleep(
    subscriber: Any, timeout_ms: int, max_records: int, unreadable: UnreadableRecords | None = None
) -> None:
    """Make a faststream batch subscriber poll without sleeping after an empty poll.

    faststream's batch loop sleeps its poll timeout again after every empty poll, on top of the poll's own wait: a
    record fetched during that sleep waited up to the timeout for nothing (about a quarter of a hop's time on the
    embedded default at 2 cases/s). aiokafka's `getmany` already waits until records come, so the sleep only
    delays them. With `unreadable`, a record aiokafka cannot read (a header name that is not UTF-8) is
    dead-lettered and skipped instead of failing every poll (see shared/messaging/unreadable_records.py).
    """

    async def get_msg(consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord, ...]:
        began = positions(consumer) if unreadable else {}  # in memory: to undo a poll that fails midway
        try:
            batches = await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        except UnicodeDecodeError as exc:
            if unreadable is None:
                raise
            return await unreadable.after_batch_error(consumer, began, exc, max_records)
        return tuple(chain.from_iterable(batches.values()))

    subscriber.get_msg = get_msg  # faststream has no hook for it; its consume loop calls this every turn


class _SplitBatch(Exception):
    """Handling failed in a way no retry of the same records can fix."""
