"""The chain walk names the first thing that does not match: edited, deleted, moved, or a hash altered."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

from shared.audit.walk import (
    CONTENT_EDITED,
    HASH_MISMATCH,
    OUT_OF_ORDER,
    POSITION_MISSING,
    verify_chain,
)
from shared.eventstore.chain import GENESIS, ChainedEvent, ChainHead, event_hash
from shared.eventstore.memory import InMemoryRecorder
from shared.testing.recorder_contract import event, recording


class StoredChain:
    """A chain laid out as stored documents, which a test may tamper with like a database user."""

    def __init__(self, events: list[ChainedEvent], head: ChainHead) -> None:
        self.events, self.head = events, head

    async def chain_head(self) -> ChainHead:
        return self.head

    async def stored_hash(self, position: int) -> str | None:
        return next((e.hash for e in self.events if e.position == position), None)

    async def chained_events(self, after: int, up_to: int) -> AsyncIterator[ChainedEvent]:
        for e in sorted(self.events, key=lambda e: e.position):
            if after < e.position <= up_to:
                yield e

    def at(self, position: int) -> int:
        return next(i for i, e in enumerate(self.events) if e.position == position)


async def recorded(n: int) -> StoredChain:
    recorder = InMemoryRecorder()
    for i in range(n):
        await recorder.append(recording(f"s{i % 3}", i // 3), [event(i)])
    events = [e async for e in recorder.chained_events(0, n)]
    return StoredChain(events, await recorder.chain_head())


async def test_an_untouched_chain_is_intact_up_to_the_head_with_the_head_hash() -> None:
    chain = await recorded(10)
    report = await verify_chain(chain)
    assert report.intact and report.complete
    assert (report.verified_up_to, report.verified_hash) == (10, chain.head.hash)
    assert report.events == 10 and report.events_per_second > 0
    assert report.summary().startswith(f"intact up to position 10, head hash {chain.head.hash}")


async def test_an_edited_field_is_named_content_edited_at_its_position() -> None:
    chain = await recorded(10)
    i = chain.at(4)
    e = chain.events[i]
    chain.events[i] = dataclasses.replace(e, fields={**e.fields, "data": {"n": 999}})
    report = await verify_chain(chain)
    assert report.broken is not None
    assert (report.broken.position, report.broken.event_id, report.broken.what) == (
        4,
        e.event_id,
        CONTENT_EDITED,
    )
    assert report.verified_up_to == 3


async def test_an_edited_field_of_the_head_event_is_content_edited() -> None:
    chain = await recorded(5)
    i = chain.at(5)
    chain.events[i] = dataclasses.replace(chain.events[i], fields={**chain.events[i].fields, "bureau": "x"})
    report = await verify_chain(chain)
    assert report.broken is not None and (report.broken.position, report.broken.what) == (5, CONTENT_EDITED)


async def test_a_stored_hash_altered_alone_is_a_hash_mismatch() -> None:
    chain = await recorded(10)
    i = chain.at(6)
    chain.events[i] = dataclasses.replace(chain.events[i], hash="f" * 64)
    report = await verify_chain(chain)
    assert report.broken is not None and (report.broken.position, report.broken.what) == (6, HASH_MISMATCH)


async def test_a_deleted_event_is_a_missing_position() -> None:
    chain = await recorded(10)
    del chain.events[chain.at(7)]
    report = await verify_chain(chain)
    assert report.broken is not None
    assert (report.broken.position, report.broken.what) == (7, POSITION_MISSING)


async def test_a_deleted_head_event_is_a_missing_position() -> None:
    chain = await recorded(10)
    del chain.events[chain.at(10)]
    report = await verify_chain(chain)
    assert report.broken is not None and (report.broken.position, report.broken.what) == (
        10,
        POSITION_MISSING,
    )


async def test_two_events_with_swapped_positions_are_out_of_order() -> None:
    chain = await recorded(10)
    a, b = chain.at(3), chain.at(8)
    first, second = chain.events[a], chain.events[b]
    chain.events[a] = dataclasses.replace(first, position=8, fields={**first.fields, "position": 8})
    chain.events[b] = dataclasses.replace(second, position=3, fields={**second.fields, "position": 3})
    report = await verify_chain(chain)
    assert report.broken is not None
    assert (report.broken.position, report.broken.event_id, report.broken.what) == (
        3,
        second.event_id,
        OUT_OF_ORDER,
    )


async def test_an_event_rewritten_with_its_hash_recomputed_is_caught_by_the_next_link() -> None:
    chain = await recorded(10)
    i = chain.at(5)
    e = chain.events[i]
    fields = {**e.fields, "data": {"n": -1}}
    chain.events[i] = dataclasses.replace(e, fields=fields, hash=event_hash(e.prev_hash or GENESIS, fields))
    report = await verify_chain(chain)
    assert report.broken is not None and (report.broken.position, report.broken.what) == (5, CONTENT_EDITED)


async def test_positions_never_used_are_bridged_by_the_chain_and_reported() -> None:
    # Given a chain whose sequencer skipped positions 4 and 5 (it lost its lease) and linked 6 to 3
    recorder = InMemoryRecorder()
    events: list[ChainedEvent] = []
    previous = GENESIS
    for position in (1, 2, 3, 6, 7):
        await recorder.append(recording(f"u{position}", 0), [event(position)])
        [stored] = [e async for e in recorder.chained_events(len(events), len(events) + 1)]
        fields = {**stored.fields, "position": position}
        digest = event_hash(previous, fields)
        events.append(
            dataclasses.replace(stored, position=position, fields=fields, hash=digest, prev_hash=previous)
        )
        previous = digest
    report = await verify_chain(StoredChain(events, ChainHead(7, previous, 1)))
    assert report.intact and report.unused_positions == 2 and report.verified_up_to == 7


async def test_a_page_from_a_position_is_anchored_on_the_stored_hash_before_it() -> None:
    chain = await recorded(30)
    page = await verify_chain(chain, from_position=11, limit=10)
    assert page.intact and not page.complete
    assert (page.from_position, page.verified_up_to, page.events) == (11, 20, 10)
    assert page.verified_hash == chain.events[chain.at(20)].hash
    rest = await verify_chain(chain, from_position=21)
    assert rest.complete and rest.verified_hash == chain.head.hash


async def test_an_edit_at_the_last_position_of_a_page_is_named_from_the_next_link() -> None:
    chain = await recorded(30)
    i = chain.at(20)
    chain.events[i] = dataclasses.replace(chain.events[i], hash="e" * 64)
    page = await verify_chain(chain, from_position=11, limit=10)
    assert page.broken is not None and (page.broken.position, page.broken.what) == (20, HASH_MISMATCH)


async def test_events_from_before_the_chain_are_reported_not_verified() -> None:
    chain = await recorded(0)
    chain.head = ChainHead(position=40, hash=GENESIS, chain_start=41)
    report = await verify_chain(chain)
    assert report.intact and report.events == 0 and report.chain_start == 41
    assert "positions 1-40 predate the chain" in report.summary()


async def test_a_chain_start_moved_past_chained_events_is_a_break() -> None:
    # Given someone moved chain_start forward to leave edited events outside the verified range
    chain = await recorded(10)
    chain.head = dataclasses.replace(chain.head, chain_start=6)
    report = await verify_chain(chain)
    assert report.broken is not None and (report.broken.position, report.broken.what) == (5, HASH_MISMATCH)
    assert "chain_start was moved" in report.broken.detail
