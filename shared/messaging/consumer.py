"""Consumer runtime: decode, deduplicate by event id with the effect, retry with backoff, dead-letter.

Offsets are committed only after a message was handled or dead-lettered (faststream NACK_ON_ERROR:
an exception seeks back so the message comes again). Nothing is lost and nothing stops the consumer.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.exceptions import AckMessage
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure, PyMongoError

from shared.eventstore.recorder import ConcurrencyError
from shared.json_keys import parse_unique
from shared.messaging.dead_letters import dead_letter, problems_of
from shared.messaging.kafka import UnreadableHeaders
from shared.messaging.pacing import FetchPacer, FetchWait
from shared.messaging.unreadable_records import UnreadableRecords
from shared.metrics import record_consumed

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
PROCESSED = "processed_messages"
# How long a processed-message marker is kept. Markers only need to outlive any redelivery: a message comes
# again at most as long as the broker keeps it (Kafka's default retention is 7 days) or when the relay
# republishes after a broker loss (the embedded Tansu only). A repeat arriving after its marker expired is
# still harmless: every projection write is guarded by the stream version, so an event already folded
# changes nothing, and a policy's command id is derived from the event id, so it records nothing new.
MARKER_TTL = timedelta(days=30)
INDEX_CONFLICTS = (85, 86)  # IndexOptionsConflict (mongod), IndexKeySpecsConflict (SecantusDB)


@dataclass(frozen=True)
class Received:
    """The message being handled, exactly as it came: its value bytes and headers (e.g. to check a signature)."""

    value: bytes
    headers: list[tuple[str, bytes]]


_received: ContextVar[Received] = ContextVar("received")


def received() -> Received:
    """Return the message the current handler runs for (set for the handler and every retry of it)."""
    return _received.get()


class PoisonMessage(Exception):
    """The message can never be handled (invalid, unknown, rejected by a rule): dead-letter it."""


def is_transient(exc: BaseException) -> bool:
    """Tell whether another try with the same message may succeed (outage, lost race)."""
    if isinstance(exc, ConnectionFailure | ConcurrencyError | OSError | TimeoutError):
        return True
    return isinstance(exc, PyMongoError) and (
        exc.has_error_label("TransientTransactionError") or exc.has_error_label("RetryableWriteError")
    )


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff between attempts; unexpected errors are dead-lettered after max_attempts."""

    max_attempts: int = 5
    first_delay_s: float = 0.1
    max_delay_s: float = 10.0

    def delay(self, attempt: int) -> float:
        """Return the wait before the given attempt (1-based)."""
        return min(self.first_delay_s * 2 ** (attempt - 1), self.max_delay_s)


async def ensure_marker_ttl(db: AsyncDatabase, ttl: timedelta = MARKER_TTL) -> None:
    """Create (or retune) the TTL index that expires processed-message markers after ttl."""
    seconds = int(ttl.total_seconds())
    try:
        await db[PROCESSED].create_index("at", expireAfterSeconds=seconds, name="at_ttl")
    except OperationFailure as exc:
        if exc.code not in INDEX_CONFLICTS:
            raise
        # The index exists with another TTL: change it in place rather than drop and rebuild.
        await db.command({"collMod": PROCESSED, "index": {"name": "at_ttl", "expireAfterSeconds": seconds}})


class Deduplicator:
    """Records processed event ids in the same MongoDB transaction as the handler's effect."""

    def __init__(
        self, client: AsyncMongoClient, db: AsyncDatabase, group: str, *, marker_ttl: timedelta = MARKER_TTL
    ) -> None:
        self._client, self._db, self._group = client, db, group
        self._marker_ttl = marker_ttl
        self._indexed = False

    async def ensure_indexes(self) -> None:
        """Make markers expire (idempotent); `once` calls it before its first marker."""
        if not self._indexed:
            await ensure_marker_ttl(self._db, self._marker_ttl)
            self._indexed = True

    async def once(self, message_id: str, effect: Callable[[AsyncClientSession], Awaitable[None]]) -> bool:
        """Run effect unless message_id was processed; return whether it ran."""
        await self.ensure_indexes()
        key = f"{self._group}:{message_id}"

        async def transaction(session: AsyncClientSession) -> None:
            # The marker first: a duplicate fails here, before any effect, and aborts the transaction.
            await self._db[PROCESSED].insert_one({"_id": key, "at": datetime.now(UTC)}, session=session)
            await effect(session)

        try:
            async with self._client.start_session() as session:
                await session.with_transaction(transaction)
        except DuplicateKeyError:
            return False
        return True


@dataclass
class ConsumerStats:
    """Counters a service reports on /healthz."""

    handled: int = 0
    duplicates: int = 0
    ignored: int = 0
    dead_lettered: int = 0
    retries: int = 0


class SubscriberHealth:
    """What every subscriber reports: its topic, group, counters and the partitions it holds."""

    subscriber: Any
    stats: ConsumerStats
    _topic: str
    _group: str

    def assigned_partitions(self) -> list[str]:
        """Return the topic-partitions this instance holds in its group now."""
        consumer = getattr(self.subscriber, "consumer", None)
        return sorted(f"{tp.topic}[{tp.partition}]" for tp in consumer.assignment()) if consumer else []

    def health(self) -> dict[str, Any]:
        """Return counters and assignment for /healthz."""
        return {
            "topic": self._topic,
            "group": self._group,
            "consumer": vars(self.stats),
            "assigned_partitions": self.assigned_partitions(),
        }

    def _highwater(self, record: Any) -> int | None:
        consumer = getattr(self.subscriber, "consumer", None)
        if consumer is None:
            return None
        try:
            return consumer.highwater(TopicPartition(record.topic, record.partition))  # type: ignore[no-any-return]
        except Exception:  # a rebalance may have taken the partition away: no lag figure this time
            return None


class ReliableSubscriber(SubscriberHealth, Generic[M]):
    """Subscribes a use case to a topic with validation, retry with backoff, and dead-lettering."""

    def __init__(
        self,
        *,
        broker: KafkaBroker,
        topic: str,
        group: str,
        model: type[M],
        handle: Callable[[M], Awaitable[bool | None]],
        fetch_wait: FetchWait,
        retry: RetryPolicy | None = None,
        description: str = "",
    ) -> None:
        self._broker = broker
        self._topic = topic
        self._group = group
        self._model = model
        self._handle = handle
        self._retry = retry or RetryPolicy()
        self._headers = UnreadableHeaders()
        self.stats = ConsumerStats()

        async def on_message(body: Any, message: KafkaMessage) -> None:
            await self._handle_with_retries(self._model.model_validate(body), message)

        # faststream documents the payload (AsyncAPI) from the handler's annotation.
        on_message.__annotations__["body"] = model
        on_message.__name__ = f"{group}_{topic.replace('.', '_')}"
        self.subscriber = broker.subscriber(
            topic,
            group_id=group,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=fetch_wait.idle,  # until the first record: see FetchPacer
            parser=self._headers.parse,
            decoder=self._decode,
            title=f"{topic}:{group}",
            description=description or None,
        )
        self.subscriber(on_message)
        self._unreadable = UnreadableRecords(broker, group, self.stats)
        # faststream has no hook for its poll; its consume loop calls this every turn.
        self.subscriber.get_msg = self._get_msg
        self.pacer = FetchPacer(fetch_wait, self.subscriber)

    async def _get_msg(self, consumer: AIOKafkaConsumer) -> ConsumerRecord | None:
        """faststream's poll (getone), past records aiokafka cannot read: see unreadable_records."""
        try:
            return await consumer.getone()
        except UnicodeDecodeError as exc:
            return await self._unreadable.after_one_error(consumer, exc)

    async def _decode(self, message: KafkaMessage, _default: Any) -> Any:
        self.pacer.saw_records()
        if problem := self._headers.problem(message, message.raw_message):
            await self._dead_letter(message, problem)
            raise AckMessage()
        # Validate here, before faststream does: an invalid message must reach the DLQ, not loop.
        try:
            return parse_unique(self._model, message.body).model_dump(mode="json")
        except Exception as exc:
            await self._dead_letter(message, f"invalid {self._model.__name__}: {problems_of(exc)}")
            raise AckMessage() from exc

    async def _handle_with_retries(self, item: M, message: KafkaMessage) -> None:
        record: Any = message.raw_message
        token = _received.set(Received(bytes(record.value or b""), list(record.headers or [])))
        started = time.perf_counter()
        try:
            await self._retrying(item, message)
        finally:
            _received.reset(token)
        record_consumed(
            record.topic,
            self._group,
            record.partition,
            record.offset,
            self._highwater(record),
            time.perf_counter() - started,
        )

    async def _retrying(self, item: M, message: KafkaMessage) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                ran = await self._handle(item)
                if ran is None:
                    self.stats.ignored += 1  # not a message this consumer acts on
                elif ran:
                    self.stats.handled += 1
                else:
                    self.stats.duplicates += 1
                return
            except PoisonMessage as exc:
                await self._dead_letter(message, str(exc))
                return
            except Exception as exc:
                if is_transient(exc):
                    # An outage or a lost race: never dead-letter, keep trying (the offset is not committed).
                    log.warning(
                        "%s: transient %s (%s), attempt %d", self._group, type(exc).__name__, exc, attempt
                    )
                elif attempt >= self._retry.max_attempts:
                    log.exception("%s: giving up after %d attempts", self._group, attempt)
                    await self._dead_letter(
                        message, f"failed after {attempt} attempts: {type(exc).__name__}: {exc}"
                    )
                    return
                else:
                    log.warning("%s: %s (%s), attempt %d", self._group, type(exc).__name__, exc, attempt)
            self.stats.retries += 1
            await asyncio.sleep(self._retry.delay(attempt))

    async def _dead_letter(self, message: KafkaMessage, reason: str) -> None:
        await dead_letter(self._broker, message.raw_message, reason, self._group)
        self.stats.dead_lettered += 1
