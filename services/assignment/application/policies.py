"""Policies: what the assignment service does when something happened elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from pydantic import BaseModel

from services.assignment.application.boards import Boards, Cases, Context, Planned, Together, policy_context
from services.assignment.application.calendars import Calendars
from services.assignment.domain.board import AssignmentBoard
from services.assignment.domain.casework import CaseFile
from services.assignment.projections.case_summaries import CaseSummaries
from shared.auth.actors import service_actor
from shared.contracts.assignment import (
    CaseJoinedEnterprise,
    ConciergeAssigned,
    ConciergeReassigned,
    EnterpriseQueued,
)
from shared.contracts.calendar import WorkdayCalendarPublished
from shared.contracts.casework import CoordinationTaskOpened
from shared.contracts.envelope import EventEnvelope
from shared.contracts.events import CaseOpened, parse_event_data
from shared.contracts.text import read_stored
from shared.eventstore.recorder import AppendResult
from shared.workdays.calendar import WorkdayCalendar

LATE_AFTER = timedelta(seconds=2)  # a CaseOpened handled later than this may find its case solved meanwhile


async def a_case_solved_before_it_was_placed_gets_no_concierge(envelope: EventEnvelope, cases: Cases) -> bool:
    """Tell whether a CaseOpened handled late (the consumer lagged or restarted) finds its case resolved."""
    # On time (the usual path) nothing can have resolved the case yet: no read. A late one reads the stream,
    # so that a case opened and solved while the consumer was away does not hand somebody an enterprise with
    # nothing left to solve (and tell them so), only to release them a moment later.
    if datetime.now(UTC) - envelope.occurred_at < LATE_AFTER:
        return False
    case = await cases.load(envelope.stream_id)
    return case is not None and case.resolved


async def assign_concierge_when_case_opened(envelope: EventEnvelope, *, boards: Boards, cases: Cases) -> bool:
    """Give the new case to its enterprise's concierge, a free management-post person, or the queue."""
    opened = parse_event_data(envelope.event_type, envelope.schema_version, envelope.data)
    assert isinstance(opened, CaseOpened)
    if await a_case_solved_before_it_was_placed_gets_no_concierge(envelope, cases):
        return False
    context = policy_context(envelope, "assign_concierge_when_case_opened")
    recorded = await boards.decide(
        context,
        lambda b: b.open_case(opened.case_id, opened.enterprise, opened.category, envelope.occurred_at),
        together=concierge_onto_its_cases(cases),
    )
    # Write the concierge onto the case now rather than after a round trip through Kafka; the subscriber
    # of board events does the same with the same command ids, so its later write is a no-op. Usually it is
    # already written, in the board decision's own write; this covers a case not planned or not stored there.
    for board_event in recorded:
        await record_concierge_on_cases_when_assigned(board_event, boards=boards, cases=cases)
    return bool(recorded)


async def release_concierge_when_case_resolved(envelope: EventEnvelope, *, boards: Boards) -> bool:
    """Take the case off its enterprise; a concierge with nothing left takes the next waiting enterprise."""
    context = policy_context(envelope, "release_concierge_when_case_resolved")
    return bool(
        await boards.decide(context, lambda b: b.resolve_case(envelope.stream_id, envelope.occurred_at))
    )


async def return_case_to_concierge_when_reopened(
    envelope: EventEnvelope, *, boards: Boards, cases: Cases
) -> bool:
    """A case reopened by a low rating goes back to the same concierge (the one its own stream names)."""
    case = await cases.load(envelope.stream_id)
    if case is None or case.enterprise is None or case.category is None:
        return False
    enterprise, category, concierge = case.enterprise, case.category, case.concierge
    context = policy_context(envelope, "return_case_to_concierge_when_reopened")
    return bool(
        await boards.decide(
            context,
            lambda b: b.reopen_case(
                envelope.stream_id, enterprise, category, concierge, envelope.occurred_at
            ),
        )
    )


async def record_concierge_on_cases_when_assigned(
    envelope: EventEnvelope, *, boards: Boards, cases: Cases
) -> bool | None:
    """Write the board's decision onto each case it concerns, so the case's own history shows it."""
    event = parse_event_data(envelope.event_type, envelope.schema_version, envelope.data)
    if isinstance(event, EnterpriseQueued):
        return await record_withdrawal_on_cases_when_queued(envelope, event, cases=cases)
    if isinstance(event, CaseJoinedEnterprise):
        board = await boards.at_least(envelope.bureau, envelope.version)
        targets = _concierge_targets(event, lambda staff_id: board.staff[staff_id].name)
    else:
        targets = _concierge_targets(event, lambda _: "")
    if targets is None:
        return None
    if cases.already_written(str(envelope.event_id)):
        return False
    wrote = False
    for case_id, staff_id, name in targets:
        context, decision = _concierge_on_case(envelope, case_id, staff_id, name)
        wrote = bool(await cases.decide(context, case_id, decision)) or wrote
    cases.written(str(envelope.event_id))
    return wrote


def concierge_onto_its_cases(cases: Cases) -> Together:
    """Plan writing a board decision onto each case it concerns, to go out in the decision's own write."""

    def plan(board_events: list[EventEnvelope], board: AssignmentBoard) -> list[Planned]:
        planned: list[Planned] = []
        for envelope in board_events:
            event = parse_event_data(envelope.event_type, envelope.schema_version, envelope.data)
            try:
                targets = _concierge_targets(event, lambda staff_id: board.staff[staff_id].name)
            except KeyError:
                continue  # not a person on this board: the usual way refuses it with the stream read
            plans: list[Planned] = []
            for case_id, staff_id, name in targets or []:
                plan = cases.plan(*_concierge_on_case(envelope, case_id, staff_id, name), case_id=case_id)
                if plan is None:
                    break  # a case not followed here: the usual way decides them all, reading the stream
                plans.append(plan)
            else:
                if plans:
                    planned.extend(_noting_when_all_stored(plans, str(envelope.event_id), cases))
        return planned

    return plan


def _noting_when_all_stored(plans: list[Planned], board_event_id: str, cases: Cases) -> list[Planned]:
    # Stored is a prefix: when the last is stored, every case of the decision has it, and the board event
    # coming back (or the loop after the decision) needs to read nothing.
    last = plans[-1]

    def stored(result: AppendResult) -> None:
        last.stored(result)
        cases.written(board_event_id)

    return [*plans[:-1], Planned(last.appending, stored)]


def _concierge_targets(
    event: BaseModel, staff_name: Callable[[str], str]
) -> list[tuple[str, str, str]] | None:
    # (case, staff id, staff name) for each case a board decision gives a concierge; None for other events.
    if isinstance(event, ConciergeAssigned):
        return [(c, event.staff_id, event.staff_name) for c in event.case_ids]
    if isinstance(event, ConciergeReassigned):
        return [(c, event.to_staff_id, event.to_staff_name) for c in event.case_ids]
    if isinstance(event, CaseJoinedEnterprise):
        return [(event.case_id, event.staff_id, staff_name(event.staff_id))]
    return None


def _concierge_on_case(
    envelope: EventEnvelope, case_id: str, staff_id: str, name: str
) -> tuple[Context, Callable[[CaseFile], list[BaseModel]]]:
    context = policy_context(envelope, "record_concierge_on_cases_when_assigned", f":{case_id}")
    decision = partial(
        _record,
        staff_id=staff_id,
        name=name,
        board_event_id=str(envelope.event_id),
        board_version=envelope.version,
    )
    return context, decision


async def record_withdrawal_on_cases_when_queued(
    envelope: EventEnvelope, event: EnterpriseQueued, *, cases: Cases
) -> bool | None:
    """A concierge taken away with nobody free to replace them: each case shows it waits, with the reason."""
    if event.withdrawn_staff_id is None:
        return None  # a new enterprise queued: its case never had a concierge
    wrote = False
    for case_id in event.case_ids:
        context = policy_context(envelope, "record_withdrawal_on_cases_when_queued", f":{case_id}")
        decision = partial(
            _withdraw,
            staff_id=event.withdrawn_staff_id,
            reason=event.reason,
            board_event_id=str(envelope.event_id),
            board_version=envelope.version,
        )
        wrote = bool(await cases.decide(context, case_id, decision)) or wrote
    return wrote


def _withdraw(
    case: CaseFile, *, staff_id: str, reason: str, board_event_id: str, board_version: int
) -> list[BaseModel]:
    return case.withdraw_concierge(staff_id, reason, board_event_id, board_version)


def _record(
    case: CaseFile, *, staff_id: str, name: str, board_event_id: str, board_version: int
) -> list[BaseModel]:
    # Conditional on the board version: a replayed older decision must not undo a later one.
    return case.record_concierge(staff_id, name, board_event_id, board_version)


async def recompute_due_dates_when_calendar_published(
    envelope: EventEnvelope, *, cases: Cases, calendars: Calendars, summaries: CaseSummaries
) -> bool:
    """A published or corrected year moves every open due date it changes; the old ones stay in history."""
    published = read_stored(WorkdayCalendarPublished, envelope.data)
    calendar = await calendars.current()
    if calendar.year(published.year).version != published.version:
        return False  # a replay of a version since superseded: the newer version's own event decides
    wrote = False
    # Every case holding an open task, from assignment's own summaries (the case stream decides).
    async for case_id, bureau in summaries.cases():
        context = Context(
            bureau=bureau,
            actor=service_actor("assignment:recompute_due_dates", bureau),
            command_id=f"recompute_due_dates_when_calendar_published:{envelope.event_id}:{case_id}",
            correlation_id=envelope.correlation_id,
            causation_id=envelope.event_id,
        )
        decision = partial(_recompute, calendar=calendar, year=published.year, version=published.version)
        wrote = bool(await cases.decide(context, case_id, decision)) or wrote
    return wrote


async def recompute_due_date_when_task_opened(
    envelope: EventEnvelope, *, cases: Cases, calendars: Calendars
) -> bool:
    """A task counted with a calendar since superseded (published meanwhile) gets the new due date."""
    opened = read_stored(CoordinationTaskOpened, envelope.data)
    calendar = await calendars.current()
    deadline = calendar.add_workdays(opened.opened_at, opened.working_days)
    if (deadline.due, deadline.provisional) == (opened.due_at, opened.due_provisional):
        return False  # the usual case: nothing was published between counting and now
    wrote = False
    for year, version in deadline.calendar_versions.items():
        context = policy_context(envelope, "recompute_due_date_when_task_opened", f":{year}:{version}")
        decision = partial(_recompute, calendar=calendar, year=year, version=version)
        wrote = bool(await cases.decide(context, envelope.stream_id, decision)) or wrote
    return wrote


def _recompute(case: CaseFile, *, calendar: WorkdayCalendar, year: int, version: int) -> list[BaseModel]:
    return case.recompute_due_dates(calendar, year, version)
