"""Records the Kafka client cannot read: a header name that is not UTF-8 fails inside aiokafka's poll.

aiokafka decodes header names while it unpacks a fetched partition, so such a record raises UnicodeDecodeError
out of `getmany`/`getone` before faststream or our parser sees it: its partition would never get past it,
faststream's consume task would crash and restart without end, and the records a `getmany` had already
drained from other partitions would be dropped with their positions advanced (lost). The subscribers' poll
calls `after_batch_error`/`after_one_error` on that error: every partition goes back to where the poll began,
the partition whose next record cannot be read is found by reading the partitions one record at a time, a
small dead-letter record naming that record (its key, value and headers cannot be read) is published, and the
partition moves past it. The ordinary poll only pays for an in-memory copy of each partition's position.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faststream.kafka import KafkaBroker

from shared.messaging.dead_letters import dead_letter

if TYPE_CHECKING:
    from shared.messaging.consumer import ConsumerStats

log = logging.getLogger(__name__)
REASON = "a header name is not UTF-8"
# How long one partition is given to hand over its next record while looking for the unreadable one. A
# partition with records answers at once; only one with nothing more to read waits this long.
PROBE_TIMEOUT_MS = 1000
RETRY_DELAY_S = 1.0  # after the dead-letter topic could not be written: the record is read (and fails) again

Positions = dict[TopicPartition, int]


@dataclass(frozen=True)
class Unreadable:
    """Where the record that cannot be read is, and the readable records before it in its partition."""

    tp: TopicPartition
    offset: int
    before: list[ConsumerRecord]


def positions(consumer: AIOKafkaConsumer) -> Positions:
    """Return each assigned partition's position as the consumer holds it in memory (no network trip)."""
    # aiokafka's public position() awaits a reset when there is none yet; its state is read directly instead.
    subscription = getattr(getattr(consumer, "_subscription", None), "subscription", None)
    assignment = getattr(subscription, "assignment", None)
    if assignment is None:
        return {}
    held: Positions = {}
    for tp in assignment.tps:
        state = assignment.state_value(tp)
        if state is not None and state.has_valid_position:
            held[tp] = state.position
    return held


def _failing_place(exc: BaseException) -> tuple[TopicPartition, int] | None:
    """Return the partition aiokafka was unpacking when it raised, and the offset it had reached.

    A hint, not relied on: it names the partition to read first, and the offset of the record that failed even
    where offsets are not consecutive (a transaction's control record just before it).
    """
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "_unpack_records":
            tp, unpacking = tb.tb_frame.f_locals.get("tp"), tb.tb_frame.f_locals.get("self")
            offset = getattr(unpacking, "next_fetch_offset", None)
            if isinstance(tp, TopicPartition) and isinstance(offset, int):
                return tp, offset
        tb = tb.tb_next
    return None


class UnreadableRecords:
    """Gets a subscriber's poll past records aiokafka cannot read, each dead-lettered once and counted."""

    def __init__(self, broker: KafkaBroker, group: str, stats: ConsumerStats) -> None:
        self._broker, self._group, self._stats = broker, group, stats

    async def after_batch_error(
        self, consumer: AIOKafkaConsumer, began: Positions, exc: UnicodeDecodeError, max_records: int
    ) -> tuple[ConsumerRecord, ...]:
        """Undo a failed getmany, move past the unreadable record; return its partition's ones before it."""
        await _rewind(consumer, began, every_assigned=True)
        began = positions(consumer)  # now with those that had none before the poll
        found = await self._find(consumer, began, exc, limit=max_records)
        if found is None:
            return ()
        if not await self._dead_letter(consumer, found, began):
            return ()
        await _rewind(consumer, {found.tp: found.offset + 1})  # past it (unless a rebalance took it away)
        # Handed over as this poll's batch; committed with it, after they were handled.
        return tuple(found.before)

    async def after_one_error(
        self, consumer: AIOKafkaConsumer, exc: UnicodeDecodeError
    ) -> ConsumerRecord | None:
        """Move a failed getone past the unreadable record; return a record to handle first, if one came."""
        began = positions(consumer)  # getone moved no position when it raised
        found = await self._find(consumer, began, exc, limit=1)
        if found is None:
            return None
        if found.before:  # not expected (getone fails on a partition's next record): handle that one first
            await _rewind(consumer, {found.tp: found.before[0].offset + 1})
            return found.before[0]
        if await self._dead_letter(consumer, found, began):
            await _rewind(consumer, {found.tp: found.offset + 1})
        return None

    async def _find(
        self, consumer: AIOKafkaConsumer, began: Positions, exc: BaseException, *, limit: int
    ) -> Unreadable | None:
        """Read the partitions one record at a time from where they began until one fails; rewind the rest."""
        hint = (_failing_place(exc) or (None, 0))[0]
        order = sorted(began, key=lambda tp: (tp != hint, tp.topic, tp.partition))
        try:
            for tp in order:
                read: list[ConsumerRecord] = []
                try:
                    while len(read) <= limit:
                        got = await consumer.getmany(tp, timeout_ms=PROBE_TIMEOUT_MS, max_records=1)
                        if not got:
                            break  # nothing more to read in time: this partition is not the one
                        read.extend(got.get(tp, ()))
                except UnicodeDecodeError as failed:
                    offset = read[-1].offset + 1 if read else began[tp]
                    if (place := _failing_place(failed)) and place[0] == tp:
                        offset = max(offset, place[1])
                    await _rewind(consumer, {t: o for t, o in began.items() if t != tp})
                    return Unreadable(tp, offset, read)
        except BaseException:
            await _rewind(consumer, began)  # nothing read here may be skipped
            raise
        await _rewind(consumer, began)
        log.error("%s: a poll failed on %r but no partition's record fails alone", self._group, exc)
        await asyncio.sleep(RETRY_DELAY_S)  # the next poll tries again; never a hot loop
        return None

    async def _dead_letter(self, consumer: AIOKafkaConsumer, found: Unreadable, began: Positions) -> bool:
        """Publish the DLQ record of an unreadable record; on failure rewind its partition, to try again."""
        value = {"topic": found.tp.topic, "partition": found.tp.partition, "offset": found.offset}
        body = json.dumps({**value, "reason": REASON}).encode()
        stand_in: ConsumerRecord[bytes, bytes] = ConsumerRecord(
            topic=found.tp.topic,
            partition=found.tp.partition,
            offset=found.offset,
            timestamp=0,
            timestamp_type=0,
            key=None,
            value=body,
            checksum=None,
            serialized_key_size=-1,
            serialized_value_size=len(body),
            headers=(),
        )
        try:
            await dead_letter(self._broker, stand_in, REASON, self._group)
        except Exception as exc:
            # An outage: the record stays where it is and fails (and is dead-lettered) on a later poll.
            log.warning("%s: dead-lettering an unreadable record failed (%r); retrying", self._group, exc)
            await _rewind(consumer, {found.tp: began[found.tp]})
            await asyncio.sleep(RETRY_DELAY_S)
            return False
        self._stats.dead_lettered += 1
        return True


async def _rewind(consumer: AIOKafkaConsumer, to: Positions, *, every_assigned: bool = False) -> None:
    """Seek the partitions still assigned; with every_assigned, those without a position to their commit."""
    assigned = consumer.assignment()
    for tp, offset in to.items():
        if tp in assigned:  # a rebalance may have taken it away meanwhile
            consumer.seek(tp, offset)
    if not every_assigned:
        return
    for tp in assigned - to.keys():
        # It got its position during the poll, so what the poll drained of it came from its committed offset
        # (or the earliest, every subscriber's reset policy).
        committed = await consumer.committed(tp)
        if committed is not None:
            consumer.seek(tp, committed)
        else:
            await consumer.seek_to_beginning(tp)
