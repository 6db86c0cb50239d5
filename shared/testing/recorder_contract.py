"""Contract suite for EventRecorder: the MongoDB recorder and the in-memory fake both subclass it.

A subclass provides the `store` fixture: a StoreHarness whose `recorder` is empty and whose
`settle()` returns once every committed event is visible in the global order.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, cast

import pytest

from shared.audit.walk import verify_chain
from shared.contracts.envelope import Actor
from shared.eventstore.chain import GENESIS, ChainSource, envelope_fields, event_hash
from shared.eventstore.recorder import (
    MAX_EVENT_BYTES,
    ConcurrencyError,
    EventRecorder,
    EventTooLarge,
    NewEvent,
    Recording,
)

ACTOR = Actor(kind="service", id="contract-test")


@dataclass
class StoreHarness:
    """A recorder under test and a way to wait until global order has caught up."""

    recorder: EventRecorder
    settle: Callable[[], Awaitable[None]]


class ChainedRecorder(Protocol):
    """A recorder whose global order is hash-chained (every recorder under this contract)."""

    def chain(self) -> ChainSource:
        """Return the chain, for verification."""
        ...


def recording(stream: str, expected: int, command: str | None = None, bureau: str = "finance") -> Recording:
    """Build a Recording with fresh ids."""
    return Recording(
        stream_id=stream,
        stream_type="case",
        expected_version=expected,
        bureau=bureau,
        actor=ACTOR,
        command_id=command or uuid.uuid4().hex,
        correlation_id=uuid.uuid4(),
    )


def event(n: int = 0) -> NewEvent:
    """Build a small test event."""
    return NewEvent("Tested", 1, {"n": n})


class RecorderContract:
    """Behaviour every event recorder must have."""

    async def test_appends_and_reads_a_stream_in_version_order(self, store: StoreHarness) -> None:
        r = store.recorder
        await r.append(recording("s1", 0), [event(1), event(2)])
        await r.append(recording("s1", 2), [event(3)])
        got = await r.read_stream("s1")
        assert [(e.version, e.data["n"]) for e in got] == [(1, 1), (2, 2), (3, 3)]
        assert await r.stream_version("s1") == 3
        assert [e.version for e in await r.read_stream("s1", from_version=2)] == [2, 3]

    async def test_envelope_carries_metadata(self, store: StoreHarness) -> None:
        rec = recording("s-meta", 0)
        [appended] = (await store.recorder.append(rec, [event()])).events
        [read] = await store.recorder.read_stream("s-meta")
        assert read == appended.model_copy(update={"position": read.position})
        assert (read.bureau, read.actor, read.correlation_id) == ("finance", ACTOR, rec.correlation_id)
        assert read.occurred_at.tzinfo is not None and read.recorded_at.tzinfo is not None

    async def test_rejects_append_at_a_stale_version(self, store: StoreHarness) -> None:
        r = store.recorder
        await r.append(recording("s2", 0), [event()])
        with pytest.raises(ConcurrencyError):
            await r.append(recording("s2", 0), [event()])
        with pytest.raises(ConcurrencyError):
            await r.append(recording("s2", 5), [event()])  # ahead of the stream: no gaps allowed
        assert await r.stream_version("s2") == 1

    async def test_multi_event_append_is_all_or_nothing(self, store: StoreHarness) -> None:
        r = store.recorder
        await r.append(recording("s3", 0), [event(1)])
        with pytest.raises(ConcurrencyError):
            await r.append(recording("s3", 0), [event(2), event(3)])
        assert [e.data["n"] for e in await r.read_stream("s3")] == [1]

    async def test_retried_command_does_not_append_twice(self, store: StoreHarness) -> None:
        r = store.recorder
        first = await r.append(recording("s4", 0, command="cmd-1"), [event(1)])
        again = await r.append(recording("s4", 0, command="cmd-1"), [event(1)])
        assert again.duplicate and not first.duplicate
        assert [e.event_id for e in again.events] == [e.event_id for e in first.events]
        assert await r.stream_version("s4") == 1

    async def test_retried_command_is_recognised_after_the_stream_moved_on(self, store: StoreHarness) -> None:
        r = store.recorder
        await r.append(recording("s5", 0, command="cmd-a"), [event(1)])
        await r.append(recording("s5", 1), [event(2)])
        again = await r.append(recording("s5", 2, command="cmd-a"), [event(1)])
        assert again.duplicate and await r.stream_version("s5") == 2

    async def test_a_command_finds_the_events_it_recorded_and_only_those(self, store: StoreHarness) -> None:
        r = store.recorder
        await r.append(recording("s6", 0, command="cmd-x"), [event(1), event(2)])
        await r.append(recording("s6", 2, command="cmd-y"), [event(3)])
        assert [e.data["n"] for e in await r.command_events("cmd-x")] == [1, 2]
        assert [e.data["n"] for e in await r.command_events("cmd-y")] == [3]
        assert await r.command_events("cmd-never") == []

    async def test_appends_in_order_store_each_command_with_its_own_version(
        self, store: StoreHarness
    ) -> None:
        r = store.recorder
        await r.append(recording("board", 0), [event(0)])
        results = await r.append_in_order(
            [(recording("board", 1), [event(1)]), (recording("case-a", 0), [event(2)])]
        )
        assert [[(e.stream_id, e.version) for e in x.events] for x in results] == [
            [("board", 2)],
            [("case-a", 1)],
        ]
        assert not any(x.duplicate for x in results)
        assert [e.data["n"] for e in await r.read_stream("board")] == [0, 1]
        assert [e.data["n"] for e in await r.read_stream("case-a")] == [2]

    async def test_appends_in_order_stop_at_the_first_refused_and_keep_those_before(
        self, store: StoreHarness
    ) -> None:
        r = store.recorder
        await r.append(recording("case-b", 0), [event(0)])  # case-b is at 1: the second command expects 0
        results = await r.append_in_order(
            [
                (recording("board-b", 0), [event(1)]),
                (recording("case-b", 0), [event(2)]),
                (recording("case-c", 0), [event(3)]),
            ]
        )
        assert [x.events[0].stream_id for x in results] == ["board-b"]
        assert await r.stream_version("board-b") == 1
        assert [e.data["n"] for e in await r.read_stream("case-b")] == [0]
        assert await r.stream_version("case-c") == 0  # after the refused one: not stored either

    async def test_appends_in_order_store_nothing_when_the_first_is_refused(
        self, store: StoreHarness
    ) -> None:
        r = store.recorder
        await r.append(recording("board-c", 0), [event(0)])
        with pytest.raises(ConcurrencyError):
            await r.append_in_order(
                [(recording("board-c", 0), [event(1)]), (recording("case-d", 0), [event(2)])]
            )
        assert await r.stream_version("board-c") == 1 and await r.stream_version("case-d") == 0

    async def test_appends_in_order_retried_answer_the_first_as_a_duplicate(
        self, store: StoreHarness
    ) -> None:
        r = store.recorder
        appends = [
            (recording("board-d", 0, "cmd-board"), [event(1)]),
            (recording("case-e", 0, "cmd-case"), [event(2)]),
        ]
        first = await r.append_in_order(appends)
        again = await r.append_in_order(appends)
        assert len(first) == 2 and not first[0].duplicate
        assert [x.duplicate for x in again] == [True]
        assert [e.event_id for e in again[0].events] == [e.event_id for e in first[0].events]
        assert await r.stream_version("board-d") == 1 and await r.stream_version("case-e") == 1

    async def test_appends_in_order_stop_before_a_later_command_already_recorded(
        self, store: StoreHarness
    ) -> None:
        r = store.recorder
        await r.append(recording("case-f", 0, "cmd-f"), [event(0)])
        results = await r.append_in_order(
            [(recording("board-f", 0), [event(1)]), (recording("case-f", 0, "cmd-f"), [event(0)])]
        )
        assert [x.events[0].stream_id for x in results] == ["board-f"]
        assert await r.stream_version("case-f") == 1

    async def test_appends_in_order_of_several_events_each_are_all_or_nothing(
        self, store: StoreHarness
    ) -> None:
        r = store.recorder
        await r.append(recording("case-g", 0), [event(0)])
        results = await r.append_in_order(
            [(recording("board-g", 0), [event(1), event(2)]), (recording("case-g", 0), [event(3), event(4)])]
        )
        assert [len(x.events) for x in results] == [2]
        assert [e.data["n"] for e in await r.read_stream("case-g")] == [0]

    async def test_concurrent_appends_at_one_version_have_exactly_one_winner(
        self, store: StoreHarness
    ) -> None:
        r = store.recorder
        await r.append(recording("race", 0), [event()])

        async def attempt(i: int) -> bool:
            try:
                await r.append(recording("race", 1), [event(i)])
                return True
            except ConcurrencyError:
                return False

        wins = await asyncio.gather(*(attempt(i) for i in range(8)))
        assert sum(wins) == 1
        assert await r.stream_version("race") == 2

    async def test_read_all_returns_every_event_once_in_global_order(self, store: StoreHarness) -> None:
        r = store.recorder
        for s in range(3):
            await r.append(recording(f"g{s}", 0), [event(s), event(s)])
        await store.settle()
        got = await r.read_all(0, limit=100)
        assert len(got) == 6
        positions = [e.position or 0 for e in got]
        assert positions == sorted(positions) and len(set(positions)) == 6
        page = await r.read_all(got[1].position or 0, limit=2)
        assert [e.event_id for e in page] == [e.event_id for e in got[2:4]]

    async def test_concurrent_writers_and_a_tailing_reader_skip_nothing(self, store: StoreHarness) -> None:
        r = store.recorder
        writers, per_writer = 6, 25
        written: set[uuid.UUID] = set()
        done = asyncio.Event()

        async def write(w: int) -> None:
            version = 0
            for i in range(per_writer):
                batch = [event(i)] if i % 3 else [event(i), event(i)]
                result = await r.append(recording(f"w{w}", version), batch)
                written.update(e.event_id for e in result.events)
                version += len(batch)

        async def tail() -> list[uuid.UUID]:
            seen: list[uuid.UUID] = []
            position = 0
            while True:
                finished = done.is_set()
                page = await r.read_all(position, limit=50)
                seen.extend(e.event_id for e in page)
                if page:
                    position = page[-1].position or position
                elif finished and len(seen) >= len(written):
                    return seen
                await asyncio.sleep(0)

        reader = asyncio.create_task(tail())
        await asyncio.gather(*(write(w) for w in range(writers)))
        await store.settle()
        done.set()
        seen = await asyncio.wait_for(reader, timeout=60)
        assert len(seen) == len(set(seen)) == len(written)
        assert set(seen) == written
        for w in range(writers):
            stream = [e for e in await r.read_all(0, 10_000) if e.stream_id == f"w{w}"]
            assert [e.version for e in stream] == sorted(e.version for e in stream)

    async def test_read_stream_as_of_a_moment(self, store: StoreHarness) -> None:
        r = store.recorder
        [first] = (await r.append(recording("t", 0), [event(1)])).events
        await asyncio.sleep(0.01)  # distinct recorded_at at millisecond precision
        await r.append(recording("t", 1), [event(2)])
        assert [e.version for e in await r.read_stream("t", recorded_until=first.recorded_at)] == [1]

    async def test_rejects_an_event_larger_than_the_limit_and_records_nothing_of_its_command(
        self, store: StoreHarness
    ) -> None:
        r = store.recorder
        huge = NewEvent("Tested", 1, {"text": "字" * (MAX_EVENT_BYTES // 3 + 1)})  # 3 UTF-8 bytes each
        with pytest.raises(EventTooLarge, match="limit"):
            await r.append(recording("big", 0), [huge])
        with pytest.raises(EventTooLarge):
            await r.append(recording("big", 0), [event(1), huge])
        assert await r.stream_version("big") == 0 and await r.read_stream("big") == []

    async def test_accepts_an_event_just_under_the_limit(self, store: StoreHarness) -> None:
        r = store.recorder
        fits = NewEvent("Tested", 1, {"text": "x" * (MAX_EVENT_BYTES - 2048)})
        await r.append(recording("fits", 0), [fits])
        [read] = await r.read_stream("fits")
        assert read.data == fits.data

    async def test_every_event_is_chained_to_the_one_before_it_in_global_order(
        self, store: StoreHarness
    ) -> None:
        r = store.recorder
        for s in range(3):
            await r.append(recording(f"c{s}", 0), [event(s), event(s + 10)])
            await r.append(recording(f"c{s}", 2), [event(s + 20)])
        await store.settle()
        chain = cast(ChainedRecorder, r).chain()
        head = await chain.chain_head()
        envelopes = await r.read_all(0, limit=100)
        stored = [e async for e in chain.chained_events(0, head.position)]
        assert [e.position for e in envelopes] == [e.position for e in stored] and len(stored) == 9
        # Each stored hash covers the envelope as read back and the hash before it; the head keeps the last.
        previous = GENESIS
        for envelope, link in zip(envelopes, stored, strict=True):
            expected = event_hash(previous, envelope_fields(envelope))
            assert (link.prev_hash, link.hash) == (previous, expected)
            previous = expected
        assert head.hash == previous and head.chain_start == 1
        report = await verify_chain(chain)
        assert report.intact and report.complete and report.verified_up_to == head.position

    async def test_reading_the_events_again_changes_no_hash(self, store: StoreHarness) -> None:
        r = store.recorder
        await r.append(recording("again", 0), [event(1), event(2)])
        await store.settle()
        chain = cast(ChainedRecorder, r).chain()
        head = await chain.chain_head()
        before = [(e.position, e.hash) async for e in chain.chained_events(0, head.position)]
        await r.read_all(0, limit=100)
        await r.read_stream("again")
        await store.settle()
        assert [(e.position, e.hash) async for e in chain.chained_events(0, head.position)] == before
        assert (await chain.chain_head()).hash == head.hash
