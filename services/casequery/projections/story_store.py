"""The case stories in MongoDB: one board state per bureau and one story per case, rebuildable from the store.

Every write is guarded by the board version, as the case view's writes are by the case version: a board state
or a story only moves forward, so the live consumer and a rebuild's catch-up may write at once, and a replay of
old board events (redelivery, a consumer-group reset) changes nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from pymongo import ASCENDING, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.casequery.projections.case_view import ViewWriteRaced
from services.casequery.projections.generations import ReadModel, read_model
from services.casequery.projections.story import Board, CaseNote, Story, fold_board, fold_story
from shared.bulk_writes import insert_new
from shared.contracts.envelope import EventEnvelope
from shared.eventstore.recorder import EventRecorder

CASE_STORY = "case_story"
CASE_STORY_BOARDS = "case_story_boards"
BOARD_STREAM = "board"


async def ensure_story_indexes(stories: AsyncCollection) -> None:
    """Stories are read by _id, always with the bureau: no other index is needed but the bureau's."""
    await stories.create_index([("bureau", ASCENDING)])


def _newer(doc: dict[str, Any], field: str) -> dict[str, Any]:
    return {"_id": doc["_id"], field: {"$lt": doc[field]}}


class _Batch:
    """Board states and stories loaded and folded in memory, written once at the end."""

    def __init__(self, stories: AsyncCollection, boards: AsyncCollection) -> None:
        # Resolved once for the batch (their generations): its reads and writes go to the same collections.
        self.stories_in, self.boards_in = stories, boards
        self.boards: dict[str, Board | None] = {}  # as loaded (None: not stored yet)
        self.stories: dict[str, Story | None] = {}
        self.folded_boards: dict[str, Board] = {}
        self.folded_stories: dict[str, Story] = {}
        # Stories taken as new without reading: inserted, and folded again onto the stored one if they exist.
        self.guessed: set[str] = set()
        self.notes: dict[str, list[tuple[CaseNote, int, str]]] = {}  # what this batch adds to each story


class CaseStories:
    """Folds board events into board states and case stories (live consumer: one event; rebuild: pages)."""

    def __init__(
        self,
        stories: AsyncCollection | ReadModel,
        boards: AsyncCollection | ReadModel,
        recorder: EventRecorder,
        remember_boards: int = 0,
    ) -> None:
        self._stories, self._boards, self._recorder = read_model(stories), read_model(boards), recorder
        # The live consumer keeps the board states it wrote last (one per bureau, by collection): the next board
        # event follows one of them, so it is not read back. Boards are folded without changing what they are
        # given (fold_board is pure), and every write is guarded by the version, so a board another writer
        # moved on makes ours miss.
        self._remember = remember_boards
        self._known_boards: OrderedDict[tuple[str, str], Board] = OrderedDict()

    async def _batch(self) -> _Batch:
        return _Batch(await self._stories.collection(), await self._boards.collection())

    async def apply(self, envelope: EventEnvelope, session: AsyncClientSession | None = None) -> None:
        """Apply one board event; older versions are ignored and a gap is filled from the event store."""
        if envelope.stream_type != BOARD_STREAM:
            return
        batch = await self._batch()
        board = await batch.boards_in.find_one({"_id": envelope.stream_id}, session=session)
        batch.boards[envelope.stream_id] = board
        await self._fold(batch, envelope, session, fresh_board=False)
        await self._write(batch, session)

    async def apply_batch(self, envelopes: Iterable[EventEnvelope]) -> None:
        """Apply a page of events in global order with bulk writes (used by rebuild); others are skipped.

        A board met at version 1 is new, and so are its stories (a story exists only through its board):
        no read. Others are read once by _id.
        """
        envelopes = [e for e in envelopes if e.stream_type == BOARD_STREAM]
        if not envelopes:
            return  # most pages of a replay hold no board event: resolve nothing
        batch = await self._batch()
        for envelope in envelopes:
            fresh = False
            if envelope.stream_id not in batch.boards:
                fresh = envelope.version == 1
                batch.boards[envelope.stream_id] = None if fresh else await self._board(batch, envelope)
            fresh = fresh or batch.boards[envelope.stream_id] is None
            await self._fold(batch, envelope, None, fresh_board=fresh)
        await self._write(batch, None)
        self._note(batch)

    async def _board(self, batch: _Batch, envelope: EventEnvelope) -> Board | None:
        known = self._known_boards.get((batch.boards_in.name, envelope.stream_id))
        if known is not None and known["version"] == envelope.version - 1:
            return known
        return await batch.boards_in.find_one({"_id": envelope.stream_id})

    def _note(self, batch: _Batch) -> None:
        if not self._remember:
            return
        for board_id, board in batch.folded_boards.items():
            self._known_boards[(batch.boards_in.name, board_id)] = board
            self._known_boards.move_to_end((batch.boards_in.name, board_id))
        while len(self._known_boards) > self._remember:
            self._known_boards.popitem(last=False)

    async def _fold(
        self, batch: _Batch, envelope: EventEnvelope, session: AsyncClientSession | None, *, fresh_board: bool
    ) -> None:
        board = batch.folded_boards.get(envelope.stream_id) or batch.boards[envelope.stream_id]
        for event in await self._pending(board, envelope):
            board, notes = fold_board(board, event)
            for note in notes:
                if note.case_id not in batch.stories and note.case_id not in batch.folded_stories:
                    batch.stories[note.case_id] = await self._story(batch, note.case_id, session, fresh_board)
                story = batch.folded_stories.get(note.case_id) or batch.stories[note.case_id]
                batch.folded_stories[note.case_id] = fold_story(story, note, event.version, event.bureau)
                batch.notes.setdefault(note.case_id, []).append((note, event.version, event.bureau))
            batch.folded_boards[envelope.stream_id] = board

    async def _story(
        self, batch: _Batch, case_id: str, session: AsyncClientSession | None, fresh_board: bool
    ) -> Story | None:
        if fresh_board:
            return None  # a story exists only through its board
        if self._remember and session is None:
            # The live consumer: most notes are a new case's first, so take the story as new and insert it; the
            # insert fails on a story that exists, which is then read and given this batch's notes (_write).
            batch.guessed.add(case_id)
            return None
        return await batch.stories_in.find_one({"_id": case_id}, session=session)

    async def _pending(self, board: Board | None, envelope: EventEnvelope) -> list[EventEnvelope]:
        version = board["version"] if board else 0
        if envelope.version <= version:
            return []
        if envelope.version == version + 1:
            return [envelope]
        missing = await self._recorder.read_stream(envelope.stream_id, from_version=version + 1)
        return [e for e in missing if e.version <= envelope.version]

    async def _write(self, batch: _Batch, session: AsyncClientSession | None) -> None:
        await self._save(
            batch.stories_in,
            "board_version",
            batch.folded_stories,
            batch.stories,
            session,
            lambda doc: self._refold(batch, doc),
        )
        await self._save(batch.boards_in, "version", batch.folded_boards, batch.boards, session)

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
        session: AsyncClientSession | None,
        refold: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] | None = None,
    ) -> None:
        moved = {key: doc for key, doc in folded.items() if doc is not loaded.get(key)}  # unchanged: no write
        fresh = [doc for key, doc in moved.items() if loaded.get(key) is None]
        changed = [
            ReplaceOne(_newer(doc, field), doc) for key, doc in moved.items() if loaded.get(key) is not None
        ]
        for doc in await self._insert(collection, fresh, session):
            again = await refold(doc) if refold else doc
            changed.append(ReplaceOne(_newer(again, field), again))
        if changed:
            await collection.bulk_write(changed, ordered=False, session=session)

    async def _insert(
        self, collection: AsyncCollection, docs: list[dict[str, Any]], session: AsyncClientSession | None
    ) -> list[dict[str, Any]]:
        """Insert documents not seen yet; return those another writer created meanwhile (to re-check)."""
        if session is None:
            return await insert_new(collection, docs)
        try:
            for doc in docs:  # inside a transaction: a duplicate aborts it, so the message is retried
                await collection.insert_one(doc, session=session)
        except DuplicateKeyError:
            raise ViewWriteRaced(str(docs[0]["_id"]), 0) from None
        return []
