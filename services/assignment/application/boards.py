"""Loading and saving aggregates: boards are cached (in memory, and as snapshots) and caught up from their stream."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from uuid import UUID

from pydantic import BaseModel

from services.assignment.adapters.board_snapshots import BoardSnapshots
from services.assignment.domain.board import AssignmentBoard
from services.assignment.domain.board_snapshot import board_from_snapshot, snapshot_of
from services.assignment.domain.casework import CaseFile
from shared.auth.actors import actor_of, service_actor
from shared.auth.keys import Principal, Role
from shared.contracts.envelope import Actor, EventEnvelope
from shared.contracts.events import event_type_of, parse_event_data
from shared.eventstore.recorder import (
    Appending,
    AppendResult,
    ConcurrencyError,
    EventRecorder,
    NewEvent,
    Recording,
    envelopes_for,
    to_millis,
)

BOARD_STREAM_TYPE = "board"
CASE_STREAM_TYPE = "case"
MAX_ATTEMPTS = 20
WRITTEN_REMEMBERED = 10_000
CASES_REMEMBERED = 10_000
# The case events appended by the task collecting them (see Cases.collecting_appends); None: nobody collects.
_APPENDED: ContextVar[list[EventEnvelope] | None] = ContextVar("appended_case_events", default=None)
SNAPSHOT_EVERY = 200  # board events between snapshots: a cold start replays at most this many


def board_stream(bureau: str) -> str:
    """Return the stream id of a bureau's assignment board."""
    return f"board-{bureau}"


@dataclass(frozen=True)
class Context:
    """Who asks and in which causal chain: carried into every event's envelope."""

    bureau: str
    actor: Actor
    command_id: str
    correlation_id: UUID
    causation_id: UUID | None = None
    # The command id derives from an Idempotency-Key: a retry may find the command recorded already, and then
    # answers with its events rather than letting the rules judge it again (a resolved case refuses a resolution).
    keyed: bool = False


@dataclass(frozen=True)
class Planned:
    """A command planned to be appended together with a board decision, and what to note once it is stored."""

    appending: Appending
    stored: Callable[[AppendResult], None]


# Plans the commands that go out in the same write as a board decision, from its events (as they will be
# stored) and the board they were decided on.
Together = Callable[[list[EventEnvelope], AssignmentBoard], list[Planned]]


def new_events(events: list[BaseModel], occurred_at: datetime | None = None) -> list[NewEvent]:
    """Wrap domain events for the recorder (occurring now, or at `occurred_at`)."""
    out = []
    for event in events:
        event_type, schema_version = event_type_of(event)
        data = event.model_dump(mode="json")
        out.append(NewEvent(event_type, schema_version, data, occurred_at or datetime.now(UTC)))
    return out


async def recorded_before(recorder: EventRecorder, context: Context, stream_id: str) -> list[EventEnvelope]:
    """Return what a keyed command already recorded on the stream (a retry after a lost answer), else []."""
    if not context.keyed:
        return []  # a random command id (no key, or a policy's own): nothing to look up, no round trip
    done = await recorder.command_events(context.command_id)
    return done if done and done[0].stream_id == stream_id else []


class Boards:
    """Board aggregates by bureau; decisions retry on a concurrent append after catching up."""

    def __init__(
        self,
        recorder: EventRecorder,
        capacity: Callable[[str], int] = lambda _: 1,
        snapshots: BoardSnapshots | None = None,
        snapshot_every: int = SNAPSHOT_EVERY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._recorder = recorder
        self._clock = clock  # when decisions are recorded (tests replay a history of their own)
        self._capacity = capacity
        self._snapshots = snapshots
        self._snapshot_every = snapshot_every
        self._snapshotted: dict[str, int] = {}  # bureau -> version of the snapshot saved or loaded
        self._cache: dict[str, AssignmentBoard] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def recorder(self) -> EventRecorder:
        """The event store the boards are read from."""
        return self._recorder

    async def current(self, bureau: str) -> AssignmentBoard:
        """Return the bureau's board, caught up with its stream."""
        # The lock keeps a read from replaying events that a decision in flight already applied.
        async with self._lock(bureau):
            return await self._caught_up(bureau)

    def _lock(self, bureau: str) -> asyncio.Lock:
        return self._locks.setdefault(bureau, asyncio.Lock())

    async def _caught_up(self, bureau: str) -> AssignmentBoard:
        board = self._cache.get(bureau) or await self._from_snapshot(bureau)
        for envelope in await self._recorder.read_stream(
            board_stream(bureau), from_version=board.version + 1
        ):
            board.apply(
                parse_event_data(envelope.event_type, envelope.schema_version, envelope.data),
                envelope.occurred_at,
            )
            board.version = envelope.version
        self._cache[bureau] = board
        if self._snapshots and board.version - self._snapshotted.get(bureau, 0) >= self._snapshot_every:
            # Taken only here, where the board equals its stream up to board.version.
            await self._snapshots.save(bureau, board.version, snapshot_of(board))
            self._snapshotted[bureau] = board.version
        return board

    async def _from_snapshot(self, bureau: str) -> AssignmentBoard:
        document = await self._snapshots.load(bureau) if self._snapshots else None
        board = board_from_snapshot(document, self._capacity(bureau)) if document else None
        if board is None:
            return AssignmentBoard(bureau, self._capacity(bureau))
        self._snapshotted[bureau] = board.version
        return board

    async def at_least(self, bureau: str, version: int) -> AssignmentBoard:
        """Return the board as cached when it already reflects that version, else caught up with its stream."""
        cached = self._cache.get(bureau)
        if cached is not None and cached.version >= version:
            return cached
        return await self.current(bureau)

    async def decide(
        self,
        context: Context,
        decision: Callable[[AssignmentBoard], list[BaseModel]],
        together: Together | None = None,
    ) -> list[EventEnvelope]:
        """Run a decision on the board, append its events and `together`'s; retry when another writer won."""
        async with self._lock(context.bureau):  # one decision at a time per bureau here; processes race
            for attempt in range(MAX_ATTEMPTS):
                # Optimistic first: the cached board decides, and the append, which states the version the
                # board was at, fails if another instance appended meanwhile; then the board is caught up.
                # A stale board can also see nothing to do (a release or reopening of a case it never saw)
                # or refuse a command the store's board would take, which no append would catch: those
                # outcomes are only trusted from a board caught up with the store just now.
                cached = self._cache.get(context.bureau) if attempt == 0 else None
                board = cached or await self._caught_up(context.bureau)
                if done := await self._recorded_before(context, board_stream(context.bureau)):
                    return done
                version = board.version
                try:
                    # The decision applies its events to the board as it goes: a board that is not
                    # saved afterwards is dropped and read again. They are applied and recorded at one time.
                    board.stamp = to_millis(self._clock())
                    events = decision(board)
                    if not events:
                        if cached is not None:
                            continue  # nothing to do on the cached board: ask a caught-up one
                        return []
                    recording = _recording(context, board_stream(context.bureau), BOARD_STREAM_TYPE, version)
                    stamped = new_events(events, occurred_at=board.stamp)
                    result = await self._append(recording, stamped, board, together)
                except ConcurrencyError:
                    self._cache.pop(context.bureau, None)
                    continue
                except Exception:
                    self._cache.pop(context.bureau, None)
                    if cached is not None:
                        continue  # refused by a board that may be stale: decide again on a fresh one
                    raise
                except BaseException:
                    self._cache.pop(context.bureau, None)
                    raise
                finally:
                    board.stamp = None
                if result.duplicate:
                    self._cache.pop(context.bureau, None)  # it recorded the first attempt's events, not ours
                else:
                    board.version = version + len(events)
                return result.events
        raise ConcurrencyError(board_stream(context.bureau), -1)

    async def _recorded_before(self, context: Context, stream_id: str) -> list[EventEnvelope]:
        return await recorded_before(self._recorder, context, stream_id)

    async def _append(
        self, recording: Recording, events: list[NewEvent], board: AssignmentBoard, together: Together | None
    ) -> AppendResult:
        # The planned commands (the decision written onto its cases) go in the same write, after the board's
        # events: one round trip instead of one per stream. Those not stored are decided later the usual way.
        if together is None:
            return await self._recorder.append(recording, events)
        planned = together(envelopes_for(recording, events, datetime.now(UTC)), board)
        results = await self._recorder.append_in_order([(recording, events), *(p.appending for p in planned)])
        for plan, result in zip(planned, results[1:], strict=False):
            plan.stored(result)
        return results[0]


class Cases:
    """Case aggregates (the six-step flow): followed from consumed events, read from the stream when in doubt."""

    def __init__(self, recorder: EventRecorder) -> None:
        self._recorder = recorder
        # Board decisions this process already wrote onto their cases: the board event comes back through
        # Kafka after the policy that made it wrote it, and its second pass would only read to find that out.
        self._written: OrderedDict[str, None] = OrderedDict()
        self._cases: OrderedDict[str, CaseFile] = OrderedDict()  # as this process last read or wrote them

    def already_written(self, board_event_id: str) -> bool:
        """Tell whether this process wrote that board decision onto its cases (recently)."""
        return board_event_id in self._written

    def written(self, board_event_id: str) -> None:
        """Remember that a board decision is on its cases (bounded: the oldest are forgotten)."""
        self._written[board_event_id] = None
        while len(self._written) > WRITTEN_REMEMBERED:
            self._written.popitem(last=False)

    @contextmanager
    def collecting_appends(self) -> Iterator[list[EventEnvelope]]:
        """Collect the case events this task appends meanwhile (a context variable: other tasks' are not seen)."""
        appended: list[EventEnvelope] = []
        token = _APPENDED.set(appended)
        try:
            yield appended
        finally:
            _APPENDED.reset(token)

    def observe(self, envelope: EventEnvelope) -> None:
        """Follow a case event this process consumed, so the next decision on the case need not read it."""
        if envelope.stream_type != CASE_STREAM_TYPE:
            return
        known = self._cases.get(envelope.stream_id)
        if envelope.version == 1 and known is None and is_case_stream(envelope):
            known = CaseFile(case_id=envelope.stream_id, bureau=envelope.bureau)
        elif known is None or known.version >= envelope.version:
            return  # not followed here, or already reflected (our own events come back through Kafka)
        elif known.version != envelope.version - 1:
            self._cases.pop(envelope.stream_id, None)  # a gap: the next decision reads the stream
            return
        self._remember(_folded(known, [envelope]))
        self._recorder.saw(envelope)  # the store holds it: an append after it needs no gap check

    async def load(self, case_id: str) -> CaseFile | None:
        """Return the case's flow state, or None when the stream is not a case."""
        envelopes = await self._recorder.read_stream(case_id)
        if not envelopes or not is_case_stream(envelopes[0]):
            return None  # a board or calendar stream must never take a case step
        case = _folded(CaseFile(case_id=case_id, bureau=envelopes[0].bureau), envelopes)
        self._remember(case)
        return copy.deepcopy(case)

    async def decide(
        self, context: Context, case_id: str, decision: Callable[[CaseFile], list[BaseModel]]
    ) -> list[EventEnvelope] | None:
        """Run a decision on the case (None when it is not the caller's) and append its events."""
        for attempt in range(MAX_ATTEMPTS):
            # As with boards: the case as this process knows it decides first, the append's expected version
            # catches a stale one, and "nothing to do" or a refusal is only trusted from the stream just read.
            known = self._cases.get(case_id) if attempt == 0 else None
            case = copy.deepcopy(known) if known else await self.load(case_id)
            if case is None or case.bureau != context.bureau:
                return None
            if done := await recorded_before(self._recorder, context, case_id):
                return done
            try:
                events = decision(case)
            except Exception:
                if known is not None:
                    continue
                raise
            if not events:
                if known is not None:
                    continue
                return []
            try:
                result = await self._recorder.append(
                    _recording(context, case_id, CASE_STREAM_TYPE, case.version), new_events(events)
                )
            except ConcurrencyError:
                self._cases.pop(case_id, None)
                continue
            if result.duplicate:
                self._cases.pop(case_id, None)  # the first attempt's events, maybe not these: read next time
            else:
                self._appended(case, result)
            return result.events
        raise ConcurrencyError(case_id, -1)

    def plan(
        self, context: Context, decision: Callable[[CaseFile], list[BaseModel]], *, case_id: str
    ) -> Planned | None:
        """Plan a decision on a case as followed here, to append with another (None: the usual way)."""
        known = self._cases.get(case_id)
        if known is None or known.bureau != context.bureau:
            return None
        case = copy.deepcopy(known)
        try:
            events = decision(case)
        except Exception:
            return None  # refused by the case as known here: the usual way decides on the stream
        if not events:
            return None
        recording = _recording(context, case_id, CASE_STREAM_TYPE, case.version)
        return Planned((recording, new_events(events)), partial(self._appended, case))

    def _appended(self, case: CaseFile, result: AppendResult) -> None:
        # Our own append: the case as it now stands, and its events for whoever collects them (the summaries).
        self._remember(_folded(case, result.events))
        if (collected := _APPENDED.get()) is not None:
            collected.extend(result.events)

    def _remember(self, case: CaseFile) -> None:
        self._cases[case.case_id] = case
        self._cases.move_to_end(case.case_id)
        while len(self._cases) > CASES_REMEMBERED:
            self._cases.popitem(last=False)


def _folded(case: CaseFile, envelopes: list[EventEnvelope]) -> CaseFile:
    for envelope in envelopes:
        case.apply(parse_event_data(envelope.event_type, envelope.schema_version, envelope.data))
        case.version = envelope.version
        if envelope.event_type == "CaseResolved":
            case.resolution_id = envelope.event_id.hex  # the rating link's token id
    return case


def is_case_stream(first: EventEnvelope) -> bool:
    """Tell whether a stream's first event opens a case (and not a board or the calendar)."""
    return first.event_type == "CaseOpened" and first.stream_type == CASE_STREAM_TYPE


def _recording(context: Context, stream: str, stream_type: str, version: int) -> Recording:
    return Recording(
        stream_id=stream,
        stream_type=stream_type,
        expected_version=version,
        bureau=context.bureau,
        actor=context.actor,
        command_id=context.command_id,
        correlation_id=context.correlation_id,
        causation_id=context.causation_id,
    )


def http_context(bureau: str, key_id: str, idempotency_key: str | None, correlation: UUID | None) -> Context:
    """Context of a command sent over HTTP with a bureau key (routes use idempotent.command_context)."""
    return Context(
        bureau=bureau,
        actor=actor_of(Principal(bureau=bureau, role=Role.INTEGRATION, key_id=key_id)),
        command_id=f"http:{bureau}:{idempotency_key or uuid.uuid4().hex}",
        correlation_id=correlation or uuid.uuid4(),
    )


def policy_context(envelope: EventEnvelope, policy: str, suffix: str = "") -> Context:
    """Context of a policy reacting to an event: idempotent per (policy, event)."""
    return Context(
        bureau=envelope.bureau,
        actor=service_actor(f"assignment:{policy}", envelope.bureau),
        command_id=f"{policy}:{envelope.event_id}{suffix}",
        correlation_id=envelope.correlation_id,
        causation_id=envelope.event_id,
    )
