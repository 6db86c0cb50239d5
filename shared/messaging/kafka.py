"""Kafka plumbing: topic creation, the faststream broker, and envelope (de)serialisation."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker

from shared.config import ConnectionSettings
from shared.contracts.envelope import EventEnvelope

log = logging.getLogger(__name__)
TOPIC_EXISTS = 36


class GroupsJoinAtOnce(KafkaBroker):
    """A faststream broker whose subscribers join their consumer groups together, not one after another.

    A consumer's start waits until its group admits it, and a broker waits for more members before it answers
    a new group (Tansu: half the session timeout, 5 s; Kafka: `group.initial.rebalance.delay.ms`). faststream
    starts the subscribers in turn, so a service of four groups spent four of those waits starting.
    """

    async def start(self) -> None:
        """Connect, start every subscriber at once, then the publishers (faststream's own start, in order)."""
        await self.connect()
        async with asyncio.TaskGroup() as starting:  # one that fails cancels the others' starts
            for subscriber in self.subscribers:
                starting.create_task(subscriber.start())
        for publisher in self.publishers:
            await publisher.start()
        self.running = True


def make_broker(settings: ConnectionSettings, client_id: str) -> KafkaBroker:
    """Return a faststream Kafka broker (not connected; nothing is built at import time)."""
    return GroupsJoinAtOnce(settings.kafka_bootstrap_servers, client_id=client_id, logger=log)


async def ensure_topics(settings: ConnectionSettings, topics: Iterable[str]) -> None:
    """Create the topics that do not exist yet, with the configured partition count."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        wanted = [NewTopic(t, settings.kafka_partitions, settings.kafka_replication_factor) for t in topics]
        response = await admin.create_topics(wanted)
        for topic, code, message in response.topic_errors:
            if code not in (0, TOPIC_EXISTS):
                raise RuntimeError(f"cannot create topic {topic}: {code} {message}")
    finally:
        await admin.close()


def envelope_headers(envelope: EventEnvelope) -> list[tuple[str, bytes]]:
    """Headers that let a consumer route an event without decoding its body."""
    return [
        ("content-type", b"application/json"),
        ("event_id", str(envelope.event_id).encode()),
        ("event_type", envelope.event_type.encode()),
        ("schema_version", str(envelope.schema_version).encode()),
        ("bureau", envelope.bureau.encode()),
        ("correlation_id", str(envelope.correlation_id).encode()),
    ]


async def require_ping(broker: KafkaBroker) -> None:
    """Raise unless the broker answers within 2 s (a health check)."""
    if not await broker.ping(timeout=2.0):
        raise ConnectionError("kafka does not answer")


class UnreadableHeaders:
    """A faststream parser that lets through records whose header values are not UTF-8, to dead-letter them.

    faststream's own parser decodes every header value as UTF-8 before a message exists: one bad value raised,
    so nothing was nacked and the whole poll (good records of other partitions too) was skipped and committed
    past. This parser hands faststream a copy with readable values, keeps the original record as the message's
    raw record (its bytes, for the DLQ and a signature check), and remembers why it cannot be handled.
    Ordinary records take faststream's parser alone: the copy is made only after it failed.
    """

    async def parse(self, msg: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
        """Parse a record or a batch (a tuple of records) as faststream does, tolerating bad header values."""
        try:
            return await original(msg)
        except (UnicodeDecodeError, AttributeError):  # AttributeError: a null header value (no .decode)
            records = msg if isinstance(msg, tuple) else (msg,)
            problems: dict[tuple[str, int, int], str] = {}
            readable = tuple(self._readable(r, problems) for r in records)
            message = await original(readable if isinstance(msg, tuple) else readable[0])
            message.raw_message = msg  # offsets, nack and the DLQ work on the records as received
            # Kept on this message, not in the parser: nothing outlives the poll (a re-poll parses again).
            message.unreadable_headers = problems
            return message

    @staticmethod
    def problem(message: Any, record: Any) -> str | None:
        """Return why the record's headers make it unusable, or None; cheap for ordinary records."""
        problems = getattr(message, "unreadable_headers", None)
        if not problems:
            return None
        return problems.get((record.topic, record.partition, record.offset))  # type: ignore[no-any-return]

    @staticmethod
    def _readable(record: Any, problems: dict[tuple[str, int, int], str]) -> Any:
        bad = [name for name, value in record.headers if value is not None and not _utf8(value)]
        if bad:
            names = ", ".join(repr(n) for n in bad[:10]) + (
                f" and {len(bad) - 10} more" if len(bad) > 10 else ""
            )
            verb = "is" if len(bad) == 1 else "are"
            problems[(record.topic, record.partition, record.offset)] = (
                f"header{'s' if len(bad) > 1 else ''} {names} {verb} not UTF-8"
            )
        headers = [
            (n, b"" if v is None else v.decode("utf-8", "backslashreplace").encode())
            for n, v in record.headers
        ]
        return dataclasses.replace(record, headers=headers)


def _utf8(value: bytes) -> bool:
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True
