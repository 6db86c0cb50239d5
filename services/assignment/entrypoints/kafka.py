"""Kafka entry points: the assignment policies react to case events and to the board's own decisions.

Case events come in batches: each event's policies run in order, as they would one by one, and the case
summaries of the whole batch are written in one bulk write guarded by version. A batch that comes again
changes nothing: every policy's append is keyed by the event, and a summary only moves forward.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from faststream.kafka import KafkaBroker

from services.assignment.application.boards import Boards, Cases
from services.assignment.application.calendars import Calendars
from services.assignment.application.feedback import record_the_enterprises_rating_on_its_case
from services.assignment.application.people import keep_accounts_in_step_when_roster_changes
from services.assignment.application.policies import (
    assign_concierge_when_case_opened,
    recompute_due_date_when_task_opened,
    recompute_due_dates_when_calendar_published,
    record_concierge_on_cases_when_assigned,
    release_concierge_when_case_resolved,
    return_case_to_concierge_when_reopened,
)
from services.assignment.projections.case_summaries import CaseSummaries
from shared.auth.accounts import Accounts
from shared.contracts.envelope import EventEnvelope
from shared.contracts.topics import ASSIGNMENT_EVENTS, CALENDAR_EVENTS, CASE_EVENTS, NOTIFICATION_EVENTS
from shared.messaging.batches import BatchSubscriber, Handled
from shared.messaging.consumer import ReliableSubscriber, SubscriberHealth
from shared.messaging.pacing import FetchWait

Handler = Callable[[EventEnvelope], Awaitable[bool | None]]


def case_events_handler(
    *, boards: Boards, cases: Cases, calendars: Calendars, summaries: CaseSummaries
) -> Callable[[list[EventEnvelope]], Awaitable[Handled]]:
    """Return the handler of a batch of case events: assignment, release, reopening, and the case summaries."""

    async def on_case_events(envelopes: list[EventEnvelope]) -> Handled:
        done = Handled()
        with cases.collecting_appends() as appended:
            for envelope in envelopes:
                cases.observe(envelope)
                done.count(
                    await _react_to_case_event(envelope, boards=boards, cases=cases, calendars=calendars)
                )
        # Assignment's own read model, after the policies: only the calendar policy reads it, and a new case's
        # concierge should not wait for it. A failure here retries the batch; the policies are idempotent. The
        # case events the policies appended (a new case's concierge) are in the store: folding them now writes
        # the summary once, and when they come back through Kafka they are repeats that write nothing.
        await summaries.fold_all([*envelopes, *appended])
        return done

    return on_case_events


def case_event_handler(
    *, boards: Boards, cases: Cases, calendars: Calendars, summaries: CaseSummaries
) -> Handler:
    """Return the same handling for one case event: True when it acted, False for a repeat, None if ignored."""
    on_case_events = case_events_handler(boards=boards, cases=cases, calendars=calendars, summaries=summaries)

    async def on_case_event(envelope: EventEnvelope) -> bool | None:
        done = await on_case_events([envelope])
        return True if done.acted else False if done.duplicates else None

    return on_case_event


async def _react_to_case_event(
    envelope: EventEnvelope, *, boards: Boards, cases: Cases, calendars: Calendars
) -> bool | None:
    if envelope.event_type == "CaseOpened":
        return await assign_concierge_when_case_opened(envelope, boards=boards, cases=cases)
    if envelope.event_type == "CaseResolved":
        return await release_concierge_when_case_resolved(envelope, boards=boards)
    if envelope.event_type == "CaseReopened":
        return await return_case_to_concierge_when_reopened(envelope, boards=boards, cases=cases)
    if envelope.event_type == "CoordinationTaskOpened":
        return await recompute_due_date_when_task_opened(envelope, cases=cases, calendars=calendars)
    return None


def board_event_handler(*, boards: Boards, cases: Cases, accounts: Accounts | None = None) -> Handler:
    """Return the handler of board events: decisions are written onto each case, roster changes onto accounts."""

    async def on_board_event(envelope: EventEnvelope) -> bool | None:
        if accounts is not None:
            await keep_accounts_in_step_when_roster_changes(envelope, boards=boards, accounts=accounts)
        return await record_concierge_on_cases_when_assigned(envelope, boards=boards, cases=cases)

    return on_board_event


def calendar_event_handler(*, cases: Cases, calendars: Calendars, summaries: CaseSummaries) -> Handler:
    """Return the handler of calendar events: due dates move with a published year."""

    async def on_calendar_event(envelope: EventEnvelope) -> bool | None:
        return await recompute_due_dates_when_calendar_published(
            envelope, cases=cases, calendars=calendars, summaries=summaries
        )

    return on_calendar_event


def subscribe_policies(
    broker: KafkaBroker,
    *,
    boards: Boards,
    cases: Cases,
    calendars: Calendars,
    summaries: CaseSummaries,
    accounts: Accounts | None = None,
    group: str,
    fetch_wait: FetchWait,
) -> list[SubscriberHealth]:
    """Subscribe the policies; each effect is an append keyed by the event, so a repeat is a no-op."""
    return [
        ReliableSubscriber(
            broker=broker,
            topic=CALENDAR_EVENTS,
            group=f"{group}-calendar",
            model=EventEnvelope,
            handle=calendar_event_handler(cases=cases, calendars=calendars, summaries=summaries),
            fetch_wait=fetch_wait,
            description="A published working-day calendar year: due dates it changes are recomputed.",
        ),
        BatchSubscriber(
            broker=broker,
            topic=CASE_EVENTS,
            group=group,
            model=EventEnvelope,
            handle=case_events_handler(boards=boards, cases=cases, calendars=calendars, summaries=summaries),
            fetch_wait=fetch_wait,
            description="Opened, resolved and reopened cases drive concierge assignment and release.",
        ),
        ReliableSubscriber(
            broker=broker,
            topic=ASSIGNMENT_EVENTS,
            group=f"{group}-cases",
            model=EventEnvelope,
            handle=board_event_handler(boards=boards, cases=cases, accounts=accounts),
            fetch_wait=fetch_wait,
            description=(
                "Board decisions (assigned, joined, reassigned, withdrawn) are written onto each case; "
                "roster changes onto people's accounts."
            ),
        ),
        ReliableSubscriber(
            broker=broker,
            topic=NOTIFICATION_EVENTS,
            group=f"{group}-feedback",
            model=EventEnvelope,
            handle=lambda envelope: record_the_enterprises_rating_on_its_case(envelope, cases=cases),
            fetch_wait=fetch_wait,
            description="An enterprise's rating through its link is recorded on the case (1 or 2 reopens it).",
        ),
    ]
