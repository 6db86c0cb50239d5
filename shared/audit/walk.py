"""Walk the hash chain in position order, recompute every hash, and name the first thing that does not match.

Why the classification works: every stored event keeps its hash and the hash it links to (prev_hash),
and the position is part of the hashed content. So an edited field breaks the event's own hash while its
link still fits; a moved event (positions swapped) carries a link to another predecessor and no longer
matches its own hash; a deleted one leaves a gap that the next event's link does not bridge; a stored
hash edited alone is told apart from edited content by the next event's link (or the head's hash), which
still names the original hash.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from shared.eventstore.chain import GENESIS, ChainedEvent, ChainSource, event_hash

CONTENT_EDITED = "content edited"
POSITION_MISSING = "position missing"
OUT_OF_ORDER = "out of order"
HASH_MISMATCH = "hash mismatch"
HASH_MISSING = "hash missing"


@dataclass(frozen=True)
class Break:
    """The first place where the record does not match its chain."""

    position: int
    event_id: str | None
    bureau: str | None
    what: str  # one of the constants above
    detail: str


@dataclass(frozen=True)
class Report:
    """What a walk found: intact up to a position (with its hash) or the first break."""

    chain_start: int  # positions below it were recorded before the chain existed (not verifiable)
    from_position: int
    head_position: int
    verified_up_to: int  # the last position whose hash was recomputed and matched
    verified_hash: str  # the chain hash at verified_up_to (the head hash when complete)
    events: int  # events verified
    unused_positions: int  # positions never used (a sequencer that lost its lease); the chain bridges them
    complete: bool  # the walk reached the head
    seconds: float
    events_per_second: float
    broken: Break | None

    @property
    def intact(self) -> bool:
        """Tell whether everything walked matched."""
        return self.broken is None

    def summary(self) -> str:
        """Return the one-line verdict."""
        speed = f"{self.events} events in {self.seconds:.2f} s ({self.events_per_second:,.0f} events/s)"
        if self.broken:
            b = self.broken
            return f"BROKEN at position {b.position} (event {b.event_id}): {b.what}: {b.detail}; {speed}"
        scope = "" if self.complete else f" (stopped before the head at {self.head_position})"
        older = f"; positions 1-{self.chain_start - 1} predate the chain" if self.chain_start > 1 else ""
        return f"intact up to position {self.verified_up_to}, head hash {self.verified_hash}{scope}{older}; {speed}"

    def as_dict(self) -> dict[str, object]:
        """Return the report as JSON-ready data."""
        data = asdict(self)
        data.update(intact=self.intact, summary=self.summary())
        return data


class _Walk:
    """State of one walk: the expected next position and the hash the next event must link to."""

    def __init__(self, start: int, anchor: str) -> None:
        self.next_position = start
        self.expected_prev = anchor
        self.last: ChainedEvent | None = None
        self.events = 0
        self.unused = 0
        self.suspect: tuple[ChainedEvent, str] | None = None  # own hash differs; its successor tells why

    def accept(self, e: ChainedEvent, digest: str) -> None:
        self.unused += e.position - self.next_position
        self.next_position, self.expected_prev, self.last = e.position + 1, digest, e
        self.events += 1

    def check(self, e: ChainedEvent) -> Break | None:
        """Check one event against the walk so far; return a break or None (and move on)."""
        if self.suspect is not None:
            return self.explain_suspect(next_prev=e.prev_hash)
        if e.hash is None or e.prev_hash is None:
            return Break(e.position, e.event_id, e.bureau, HASH_MISSING, "the event carries no chain hash")
        digest = event_hash(self.expected_prev, e.fields)
        if digest == e.hash:
            self.accept(e, digest)  # a gap the link bridges is positions never used, not a deletion
            return None
        if e.position > self.next_position:
            return Break(
                self.next_position,
                None,
                None,
                POSITION_MISSING,
                f"no event at position {self.next_position}; the event at {e.position} links to another predecessor",
            )
        if e.prev_hash == self.expected_prev:
            self.suspect = (e, digest)  # content edited or its stored hash edited: the next link decides
            return None
        if event_hash(e.prev_hash, e.fields) == e.hash and self.last is not None:
            last = self.last
            return Break(
                last.position,
                last.event_id,
                last.bureau,
                CONTENT_EDITED,
                "its content and hash were rewritten together: the next event links to its original hash",
            )
        return Break(
            e.position,
            e.event_id,
            e.bureau,
            OUT_OF_ORDER,
            "the event links to a predecessor other than the event before it, and its own hash no longer"
            " matches at this position: it was moved here from elsewhere in the order",
        )

    def explain_suspect(self, next_prev: str | None) -> Break:
        """Name what changed in the suspect event, given the link its successor (or the head) holds."""
        e, recomputed = self.suspect or (None, "")
        assert e is not None
        if next_prev == recomputed:
            return Break(
                e.position,
                e.event_id,
                e.bureau,
                HASH_MISMATCH,
                "its content matches the chain but its stored hash was altered",
            )
        return Break(
            e.position,
            e.event_id,
            e.bureau,
            CONTENT_EDITED,
            "its content no longer matches its hash (a field was changed after it was recorded)",
        )


async def verify_chain(
    source: ChainSource,
    *,
    from_position: int | None = None,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Walk the chain from `from_position` (default: its start) for at most `limit` events, streaming."""
    started = time.perf_counter()
    head = await source.chain_head()
    start = min(max(from_position or head.chain_start, head.chain_start), head.position + 1)
    end = head.position if limit is None else min(head.position, start + limit - 1)
    anchor = GENESIS if start == head.chain_start else await source.stored_hash(start - 1)
    walk = _Walk(start, anchor or GENESIS)
    broken: Break | None = None
    if head.chain_start > 1 and await source.stored_hash(head.chain_start - 1) is not None:
        # chain_start only ever follows unchained events: moving it forward would hide what precedes it.
        detail = "the head's chain_start was moved past chained events (they would go unverified)"
        broken = Break(head.chain_start - 1, None, None, HASH_MISMATCH, detail)
    elif anchor is None:
        broken = Break(start - 1, None, None, HASH_MISSING, "the event before the range has no chain hash")
    else:
        broken = await _walk(source, walk, end, head.position, head.hash, progress)
    seconds = time.perf_counter() - started
    return Report(
        chain_start=head.chain_start,
        from_position=start,
        head_position=head.position,
        verified_up_to=walk.last.position if walk.last else start - 1,
        verified_hash=walk.expected_prev,
        events=walk.events,
        unused_positions=walk.unused,
        complete=broken is None and end >= head.position,
        seconds=seconds,
        events_per_second=walk.events / seconds if seconds > 0 else 0.0,
        broken=broken,
    )


async def _walk(
    source: ChainSource,
    walk: _Walk,
    end: int,
    head_position: int,
    head_hash: str,
    progress: Callable[[int, int], None] | None,
) -> Break | None:
    # One event past the range is read only to explain a suspect at its end (its link names the hash).
    async for e in source.chained_events(walk.next_position - 1, min(end + 1, head_position)):
        if e.position > end and walk.suspect is None:
            break
        if broken := walk.check(e):
            return broken
        if progress and walk.events and walk.events % 100_000 == 0:
            progress(walk.events, end)
    if walk.suspect is not None:
        suspect, _ = walk.suspect
        # The suspect is the last event: the head's hash still names the original one.
        return walk.explain_suspect(next_prev=head_hash if suspect.position == head_position else None)
    if walk.next_position <= end:
        return Break(
            walk.next_position, None, None, POSITION_MISSING, f"no event at position {walk.next_position}"
        )
    if end == head_position and walk.events and walk.expected_prev != head_hash:
        last = walk.last
        assert last is not None
        return Break(
            last.position, last.event_id, last.bureau, HASH_MISMATCH, "the head's hash differs from the chain"
        )
    return None
