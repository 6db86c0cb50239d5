"""Durability and growth of what the store keeps: majority concerns on the global order, expiring markers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

from shared.eventstore.mongo import MongoRecorder
from shared.eventstore.sequencer import Sequencer
from shared.messaging.consumer import Deduplicator
from shared.messaging.relay import Checkpoint, CheckpointStore
from shared.testing.recorder_contract import event, recording
from tests.conftest import Servers

pytestmark = pytest.mark.integration


class Commands(CommandListener):
    """Remembers every command the driver sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def started(self, event: CommandStartedEvent) -> None:
        self.sent.append(dict(event.command))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass

    def named(self, name: str, collection: str) -> list[dict[str, Any]]:
        return [c for c in self.sent if c.get(name) == collection]


@pytest.fixture
async def watched(infra: Servers, mongo_db: AsyncDatabase) -> AsyncIterator[tuple[AsyncDatabase, Commands]]:
    commands = Commands()
    client: AsyncMongoClient = AsyncMongoClient(
        infra.mongo_uri, tz_aware=True, tzinfo=UTC, event_listeners=[commands]
    )
    yield client[mongo_db.name], commands
    await client.close()


def majority_write(command: dict[str, Any]) -> bool:
    return command.get("writeConcern", {}).get("w") == "majority"


def majority_read(command: dict[str, Any]) -> bool:
    return command.get("readConcern", {}).get("level") == "majority"


async def test_appends_head_and_checkpoint_are_written_and_the_global_order_read_with_majority(
    watched: tuple[AsyncDatabase, Commands],
) -> None:
    db, commands = watched
    recorder, sequencer = MongoRecorder(db.client, db), Sequencer(db)
    checkpoints = CheckpointStore(db, "kafka")
    # When a command appends one event, another two (a transaction), the sequencer numbers them,
    # the relay reads the global order and saves its checkpoint
    await recorder.append(recording("durable-1", 0), [event(1)])
    await recorder.append(recording("durable-2", 0), [event(1), event(2)])
    while await sequencer.sequence_once():
        pass
    assert len(await recorder.read_all(0, 10)) == 3
    assert await checkpoints.hold()
    await checkpoints.save(Checkpoint(3, {}))
    # Then nothing a failover could roll back is acknowledged or published
    inserts = commands.named("insert", "events")
    assert [majority_write(c) for c in inserts if "autocommit" not in c] == [True]  # outside a transaction
    assert all(majority_write(c) for c in commands.sent if "commitTransaction" in c)
    assert any("commitTransaction" in c for c in commands.sent)
    pending_reads = [c for c in commands.named("find", "events") if "pending" in c.get("filter", {})]
    assert pending_reads and all(majority_read(c) for c in pending_reads)
    assert all(majority_write(c) for c in commands.named("update", "events"))  # numbering
    head_writes = commands.named("update", "eventstore_meta")
    assert head_writes and all(majority_write(c) for c in head_writes)
    ordered_reads = [c for c in commands.named("find", "events") if "position" in c.get("filter", {})]
    assert ordered_reads and all(majority_read(c) for c in ordered_reads)
    assert all(majority_read(c) for c in commands.named("find", "eventstore_meta"))
    checkpoint_writes = commands.named("update", "relay_checkpoints")
    assert checkpoint_writes and all(majority_write(c) for c in checkpoint_writes)


async def test_processed_message_markers_expire_after_the_configured_time(mongo_db: AsyncDatabase) -> None:
    async def no_effect(_: AsyncClientSession) -> None:
        return None

    # Given a consumer that deduplicated a message with the default marker lifetime
    dedupe = Deduplicator(mongo_db.client, mongo_db, "growth")
    assert await dedupe.once("m-1", no_effect) and not await dedupe.once("m-1", no_effect)
    # Then its markers carry a TTL index of 30 days
    indexes = {i["name"]: i async for i in await mongo_db.processed_messages.list_indexes()}
    assert indexes["at_ttl"]["expireAfterSeconds"] == 30 * 24 * 3600
    assert dict(indexes["at_ttl"]["key"]) == {"at": 1}
    # When another instance is configured with a shorter lifetime, the index follows it
    shorter = Deduplicator(mongo_db.client, mongo_db, "growth", marker_ttl=timedelta(days=8))
    assert not await shorter.once("m-1", no_effect)
    indexes = {i["name"]: i async for i in await mongo_db.processed_messages.list_indexes()}
    assert indexes["at_ttl"]["expireAfterSeconds"] == 8 * 24 * 3600
