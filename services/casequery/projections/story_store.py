"""The case stories in MongoDB: one board state per bureau, one story per case and one entry per waiting enterprise.

Every write is guarded by the board version, as the case view's writes are by the case version: a board state,
a story or a queue entry only moves forward, so the live consumer and a rebuild's catch-up may write at once, and
a replay of old board events (redelivery, a consumer-group reset) changes nothing. A batch writes the stories,
then the queue entries, then the board states: a batch that dies half-way is folded again from the board, and
what it wrote before is newer than what the fold writes again, so the guards keep it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from pymongo import ASCENDING, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection

from services.casequery.projections import queue
from services.casequery.projections.generations import ReadModel, read_model
from services.casequery.projections.story import Board, CaseNote, Story, fold_board, fold_story
from shared.bulk_writes import insert_new, write_unordered
from shared.contracts.envelope import EventEnvelope
from shared.eventstore.recorder import EventRecorder

CASE_STORY = "case_story"
CASE_STORY_BOARDS = "case_story_boards"
CASE_STORY_QUEUE = "case_story_queue"
BOARD_STREAM = "board"


async def ensure_story_indexes(stories: AsyncCollection) -> None:
    """Stories are read by _id, always with the bureau: no other index is needed but the bureau's.

    Boards and queue entries are read by _id only.
    """
    await stories.create_index([("bureau", ASCENDING)])


def _newer(doc: dict[str, Any], field: str) -> dict[str, Any]:
    return {"_id": doc["_id"], field: {"$lt": doc[field]}}


def _upsert(entry: queue.Entry) -> ReplaceOne:
    # An entry stored at this version or later makes the upsert collide on _id: another writer got there first.
    return ReplaceOne(_newer(entry, "board_version"), entry, upsert=True)


class _Batch:
    """Board states, stories and queue entries loaded and folded in memory, written once at the end."""

    def __init__(self, stories: AsyncCollection, boards: AsyncCollection, entries: AsyncCollection) -> None:
        # Resolved once for the batch (their generations): its reads and writes go to the same collections.
        self.stories_in, self.boards_in, self.queue_in = stories, boards, entries
        self.boards: dict[str, Board | None] = {}  # as loaded (None: not stored yet)
        self.stories: dict[str, Story | None] = {}
        self.folded_boards: dict[str, Board] = {}
        self.folded_stories: dict[str, Story] = {}
        # Stories taken as new without reading: inserted, and folded again onto the stored one if they exist.
        self.guessed: set[str] = set()
        self.notes: dict[str, list[tuple[CaseNote, int, str]]] = {}  # what this batch adds to each story
        self.entries: dict[str, queue.Entry | None] = {}  # queue entries read by id (None: none stored)
        self.changed_entries: set[tuple[str, str]] = set()  # (board, credit code) to write
        # Boards holding an entry newer than themselves (a batch that died before writing its board): folded
        # and written as usual (the guards keep the newer entry) but not remembered, so the next batch reads.
        self.unsure: set[str] = set()
        self.complete: set[str] = set()  # boards folded from their first event here: no entry to read
        self._codes: dict[str, list[str]] = {}  # by event id: each event's payload is parsed once for them

    def codes_of(self, envelope: EventEnvelope) -> list[str]:
        """Return the credit codes whose queue entries folding this event reads."""
        key = str(envelope.event_id)
        if key not in self._codes:
            self._codes[key] = queue.queue_codes(envelope)
        return self._codes[key]


class _EntryAhead(Exception):
    """A stored queue entry is newer than the board state it would be folded with."""


class CaseStories:
    """Folds board events into board states, queue entries and case stories (live consumer and rebuild: batches)."""

    def __init__(
        self,
        stories: AsyncCollection | ReadModel,
        boards: AsyncCollection | ReadModel,
        entries: AsyncCollection | ReadModel,
        recorder: EventRecorder,
        remember_boards: int = 0,
    ) -> None:
        self._stories, self._boards, self._entries = (
            read_model(stories),
            read_model(boards),
            read_model(entries),
        )
        self._recorder = recorder
        # The live consumer keeps the board states it wrote last (one per bureau, by collection), with the queue
        # entries it read or wrote: the next board event follows one of them, so it is not read back. Boards are
        # folded without changing what they are given (fold_board is pure), and every write is guarded by the
        # version, so a board another writer moved on makes ours miss.
        self._remember = remember_boards
        self._known_boards: OrderedDict[tuple[str, str], Board] = OrderedDict()

    async def _batch(self) -> _Batch:
        return _Batch(
            await self._stories.collection(),
            await self._boards.collection(),
            await self._entries.collection(),
        )

    async def apply(self, envelope: EventEnvelope) -> None:
        """Apply one board event (a batch of one)."""
        await self.apply_batch([envelope])

    async def apply_batch(self, envelopes: Iterable[EventEnvelope]) -> None:
        """Apply board events in global order with bulk writes; others are skipped.

        Older versions are ignored and a gap is filled from the event store. A board met at version 1 is new, and
        so are its stories and entries (they exist only through their board): no read. Others are read once by _id.
        """
        envelopes = [e for e in envelopes if e.stream_type == BOARD_STREAM]
        if not envelopes:
            return  # most pages of a replay hold no board event: resolve nothing
        batch = await self._batch()
        for envelope in envelopes:
            if envelope.stream_id not in batch.boards:
                fresh = envelope.version == 1
                batch.boards[envelope.stream_id] = None if fresh else await self._board(batch, envelope)
        await self._read_entries(batch, envelopes)
        for envelope in envelopes:
            await self._fold(batch, envelope, fresh_board=batch.boards[envelope.stream_id] is None)
        await self._write(batch)
        self._note(batch)

    async def _board(self, batch: _Batch, envelope: EventEnvelope) -> Board | None:
        known = self._known_boards.get((batch.boards_in.name, envelope.stream_id))
        if known is not None and known["version"] == envelope.version - 1:
            return known
        board, entries = queue.from_document(await batch.boards_in.find_one({"_id": envelope.stream_id}))
        for entry in entries:  # a board stored before the queue had its own documents: they are written now
            batch.changed_entries.add((entry["board"], entry["credit_code"]))
        return board

    async def _read_entries(self, batch: _Batch, envelopes: list[EventEnvelope]) -> None:
        """Read in one query the queue entries the batch's events need that no board in memory holds."""
        wanted = {
            queue.entry_id(e.stream_id, code)
            for e in envelopes
            if (board := batch.boards[e.stream_id]) is not None and e.stream_id not in batch.complete
            for code in batch.codes_of(e)
            if code not in board["queue"]
        }
        if wanted:
            batch.entries.update(dict.fromkeys(wanted))
            async for doc in batch.queue_in.find({"_id": {"$in": sorted(wanted)}}):
                batch.entries[doc["_id"]] = doc

    async def _with_entries(self, batch: _Batch, board: Board, envelope: EventEnvelope) -> Board:
        """Return the board with the queue entries this event reads (read now if the batch has not)."""
        found: dict[str, queue.Entry] = {}
        for code in batch.codes_of(envelope):
            if code in board["queue"] or envelope.stream_id in batch.complete:
                continue
            key = queue.entry_id(envelope.stream_id, code)
            if key not in batch.entries:  # an event of a gap, filled from the store
                batch.entries[key] = await batch.queue_in.find_one({"_id": key})
            if (entry := batch.entries[key]) is not None:
                if entry["board_version"] > board["version"]:
                    raise _EntryAhead(key)
                found[code] = entry
        return {**board, "queue": {**board["queue"], **found}} if found else board

    def _note(self, batch: _Batch) -> None:
        if not self._remember:
            return
        for board_id, board in batch.folded_boards.items():
            key = (batch.boards_in.name, board_id)
            if board_id in batch.unsure:
                self._known_boards.pop(key, None)
                continue
            # Entries that left are read again if ever needed: memory holds the queue, not every enterprise served.
            waiting = {code: entry for code, entry in board["queue"].items() if entry["waiting"]}
            self._known_boards[key] = {**board, "queue": waiting}
            self._known_boards.move_to_end(key)
        while len(self._known_boards) > self._remember:
            self._known_boards.popitem(last=False)

    async def _fold(self, batch: _Batch, envelope: EventEnvelope, *, fresh_board: bool) -> None:
        board = batch.folded_boards.get(envelope.stream_id) or batch.boards[envelope.stream_id]
        if board is None:
            batch.complete.add(envelope.stream_id)  # folded from its first event here: it holds every entry
        try:
            await self._fold_from(batch, board, envelope, fresh_board=fresh_board)
        except _EntryAhead:
            # A queue entry is newer than the board state it would be folded with (a batch that died before
            # writing its board, or another writer ahead): the two cannot be paired, so fold the bureau's whole
            # board stream again in memory. Every write stays guarded, so what is newer stays.
            batch.unsure.add(envelope.stream_id)
            batch.complete.add(envelope.stream_id)
            await self._fold_from(batch, None, envelope, fresh_board=True)

    async def _fold_from(
        self, batch: _Batch, board: Board | None, envelope: EventEnvelope, *, fresh_board: bool
    ) -> None:
        for event in await self._pending(board, envelope):
            before = await self._with_entries(batch, board, event) if board is not None else None
            board, notes = fold_board(before, event)
            for code in batch.codes_of(event):
                if board["queue"].get(code) is not (before or {}).get("queue", {}).get(code):
                    batch.changed_entries.add((event.stream_id, code))
            for note in notes:
                if note.case_id not in batch.stories and note.case_id not in batch.folded_stories:
                    batch.stories[note.case_id] = await self._story(batch, note.case_id, fresh_board)
                story = batch.folded_stories.get(note.case_id) or batch.stories[note.case_id]
                batch.folded_stories[note.case_id] = fold_story(story, note, event.version, event.bureau)
                batch.notes.setdefault(note.case_id, []).append((note, event.version, event.bureau))
            batch.folded_boards[envelope.stream_id] = board

    async def _story(self, batch: _Batch, case_id: str, fresh_board: bool) -> Story | None:
        if fresh_board:
            return None  # a story exists only through its board
        if self._remember:
            # The live consumer: most notes are a new case's first, so take the story as new and insert it; the
            # insert fails on a story that exists, which is then read and given this batch's notes (_write).
            batch.guessed.add(case_id)
            return None
        return await batch.stories_in.find_one({"_id": case_id})

    async def _pending(self, board: Board | None, envelope: EventEnvelope) -> list[EventEnvelope]:
        version = board["version"] if board else 0
        if envelope.version <= version:
            return []
        if envelope.version == version + 1:
            return [envelope]
        missing = await self._recorder.read_stream(envelope.stream_id, from_version=version + 1)
        return [e for e in missing if e.version <= envelope.version]

    async def _write(self, batch: _Batch) -> None:
        await self._save(
            batch.stories_in,
            "board_version",
            batch.folded_stories,
            batch.stories,
            lambda doc: self._refold(batch, doc),
        )
        await write_unordered(batch.queue_in, [_upsert(entry) for entry in self._changed_entries(batch)])
        moved = {  # a board no event moved is not written; its stored document leaves out the entries
            key: queue.to_document(board)
            for key, board in batch.folded_boards.items()
            if board is not batch.boards.get(key)
        }
        await self._save(batch.boards_in, "version", moved, batch.boards)

    @staticmethod
    def _changed_entries(batch: _Batch) -> list[queue.Entry]:
        boards = {**batch.boards, **batch.folded_boards}
        return [boards[board]["queue"][code] for board, code in sorted(batch.changed_entries)]  # type: ignore[index]

    async def _refold(self, batch: _Batch, doc: Story) -> Story:
        """A story taken as new exists after all: this batch's notes go onto the stored one instead."""
        if doc["_id"] not in batch.guessed:
            return doc  # folded from what was read: another writer created it with the same fold
        story = await batch.stories_in.find_one({"_id": doc["_id"]})
        for note, board_version, bureau in batch.notes[doc["_id"]]:
            story = fold_story(story, note, board_version, bureau)
        assert story is not None
        return story

    async def _save(
        self,
        collection: AsyncCollection,
        field: str,
        folded: dict[str, dict[str, Any]],
        loaded: dict[str, Any],
        refold: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] | None = None,
    ) -> None:
        moved = {key: doc for key, doc in folded.items() if doc is not loaded.get(key)}  # unchanged: no write
        fresh = [doc for key, doc in moved.items() if loaded.get(key) is None]
        changed = [
            ReplaceOne(_newer(doc, field), doc) for key, doc in moved.items() if loaded.get(key) is not None
        ]
        for doc in await insert_new(collection, fresh):
            again = await refold(doc) if refold else doc
            changed.append(ReplaceOne(_newer(again, field), again))
        if changed:
            await collection.bulk_write(changed, ordered=False)
