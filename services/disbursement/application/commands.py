"""Use cases: open a disbursement, report a stage, record a payment, record arrears and repayments.

Each loads the aggregate from its stream, asks the pure domain for events and appends them with the
version it read (a concurrent append retries on the new state). HTTP and Kafka call the same functions,
so both produce the same events. A command already recorded (the same Idempotency-Key or request_id:
its command id derives the first event id) answers what it recorded the first time.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TypeVar
from uuid import UUID

from pydantic import BaseModel

from services.disbursement.adapters.bank_references import BankReferences
from services.disbursement.application.bank_references import bank_reference_claimed
from services.disbursement.application.case_links import refuse_a_link_to_another_case
from services.disbursement.domain.arrears import Arrears, record_arrears
from services.disbursement.domain.disbursement import Disbursement
from services.disbursement.domain.streams import (
    ARREARS,
    DISBURSEMENT,
    SETTINGS,
    arrears_stream,
    disbursement_stream,
    fold_arrears,
    fold_disbursement,
    settings_stream,
)
from shared.contracts.disbursement import (
    DisbursementOpened,
    DisbursementSettingsChanged,
    OpenArrearsRequest,
    OpenDisbursementRequest,
    PaymentReport,
    RepaymentReport,
    Stage,
    StageReport,
)
from shared.contracts.envelope import Actor, EventEnvelope
from shared.eventstore.recorder import ConcurrencyError, EventRecorder, NewEvent, Recording, event_id_for
from shared.workdays.calendar import SHANGHAI, WorkdayCalendar

MAX_ATTEMPTS = 10
S = TypeVar("S", Disbursement, Arrears)


@dataclass(frozen=True)
class Context:
    """Who asks, in which causal chain, and under which command id (derived from the idempotency key)."""

    bureau: str
    actor: Actor
    command_id: str
    correlation_id: UUID
    reported_by: str = field(default="")
    request_ref: str | None = None  # a Kafka request_id
    request_hash: str | None = None  # SHA-256 of that request, to notice a request_id reused for another
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


class NotFound(Exception):
    """No such disbursement or arrears in the caller's bureau (another bureau's is not found either)."""


class RequestReused(Exception):
    """A request_id already recorded for a different report."""


@dataclass(frozen=True)
class Outcome:
    """What a command recorded: the stream's version after it; `replayed` when recorded before."""

    id: str
    version: int
    recorded: list[str]
    replayed: bool = False
    payment_id: str | None = None  # the payment a command recorded (as the enterprise's mail names it)


def new_id(command_id: str, kind: str) -> str:
    """Return the id a command creates: the same on every retry of the command."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{command_id}:{kind}"))


def _wrap(events: list[BaseModel], context: Context) -> list[NewEvent]:
    out = []
    for event in events:
        fields = type(event).model_fields
        if context.request_ref and "request_ref" in fields:
            event = event.model_copy(
                update={"request_ref": context.request_ref, "request_hash": context.request_hash}
            )
        out.append(NewEvent(type(event).__name__, 1, event.model_dump(mode="json"), occurred_at=context.now))
    return out


def _recording(context: Context, stream_id: str, stream_type: str, version: int) -> Recording:
    return Recording(
        stream_id=stream_id,
        stream_type=stream_type,
        expected_version=version,
        bureau=context.bureau,
        actor=context.actor,
        command_id=context.command_id,
        correlation_id=context.correlation_id,
    )


def _already(stream: list[EventEnvelope], context: Context) -> list[EventEnvelope]:
    first = event_id_for(context.command_id, 0)
    found = [e for e in stream if e.event_id == first]
    if (
        found
        and context.request_hash
        and found[0].data.get("request_hash") not in (None, context.request_hash)
    ):
        raise RequestReused(f"{context.request_ref} was already used for a different report")
    return found


async def _refuse_a_link_to_another_case(
    request: OpenDisbursementRequest | OpenArrearsRequest, context: Context, recorder: EventRecorder
) -> None:
    await refuse_a_link_to_another_case(
        request.case_id, request.enterprise.credit_code, context.bureau, recorder=recorder
    )


async def open_disbursement(
    request: OpenDisbursementRequest, context: Context, *, recorder: EventRecorder
) -> Outcome:
    """Record DisbursementOpened (and the allocation's arrival when it is given)."""
    await _refuse_a_link_to_another_case(request, context, recorder)
    disbursement_id = new_id(context.command_id, "disbursement")
    opened = DisbursementOpened(
        disbursement_id=disbursement_id,
        **request.model_dump(exclude={"allocation_received_at"}),
    )
    events: list[BaseModel] = [opened]
    if request.allocation_received_at is not None:
        state = Disbursement.open(opened, context.now)
        events += state.report_stage(
            StageReport(stage=Stage.ALLOCATION_RECEIVED, at=request.allocation_received_at),
            reported_by=context.reported_by,
            approver=None,
            now=context.now,
        )
    stream = disbursement_stream(disbursement_id)
    result = await recorder.append(_recording(context, stream, DISBURSEMENT, 0), _wrap(events, context))
    return Outcome(
        disbursement_id, result.events[-1].version, [e.event_type for e in result.events], result.duplicate
    )


async def _decide(
    stream_id: str,
    stream_type: str,
    context: Context,
    recorder: EventRecorder,
    fold: Callable[[list[EventEnvelope]], S | None],
    decide: Callable[[S], list[BaseModel]],
    claim: Callable[[], AbstractAsyncContextManager[None]] | None = None,
) -> Outcome:
    aggregate_id = stream_id.split("-", 1)[1]
    async with AsyncExitStack() as held:  # a claim taken before the append is released if it fails
        for _ in range(MAX_ATTEMPTS):
            stream = await recorder.read_stream(stream_id)
            state = fold(stream)
            if state is None or stream[0].bureau != context.bureau:
                raise NotFound(stream_id)
            if done := _already(stream, context):
                return Outcome(aggregate_id, state.version, [e.event_type for e in done], replayed=True)
            events = decide(state)
            if not events:
                return Outcome(aggregate_id, state.version, [])
            if claim is not None:
                await held.enter_async_context(claim())
                claim = None  # once: a retry after a concurrent append keeps it
            try:
                result = await recorder.append(
                    _recording(context, stream_id, stream_type, state.version), _wrap(events, context)
                )
            except ConcurrencyError:
                continue  # another report got there first: decide again on the new state
            if result.duplicate and result.events[0].stream_id != stream_id:
                raise RequestReused(
                    f"{context.request_ref or context.command_id} was already used for another stream"
                )
            return Outcome(
                aggregate_id,
                result.events[-1].version,
                [e.event_type for e in result.events],
                result.duplicate,
            )
        raise ConcurrencyError(stream_id, -1)  # inside: a claim for an append that never came is released


async def report_stage(
    disbursement_id: str,
    report: StageReport,
    context: Context,
    *,
    recorder: EventRecorder,
    approver: str | None = None,
) -> Outcome:
    """Record a stage with its own time (an exact repeat records nothing)."""
    return await _decide(
        disbursement_stream(disbursement_id),
        DISBURSEMENT,
        context,
        recorder,
        fold_disbursement,
        lambda d: d.report_stage(report, reported_by=context.reported_by, approver=approver, now=context.now),
    )


async def record_payment(
    disbursement_id: str,
    payment: PaymentReport,
    context: Context,
    *,
    recorder: EventRecorder,
    references: BankReferences,
) -> Outcome:
    """Record money credited to the enterprise's account (its bank reference: one disbursement's per bureau)."""
    payment_id = new_id(context.command_id, "payment")
    outcome = await _decide(
        disbursement_stream(disbursement_id),
        DISBURSEMENT,
        context,
        recorder,
        fold_disbursement,
        lambda d: d.record_payment(
            payment, payment_id=payment_id, reported_by=context.reported_by, now=context.now
        ),
        claim=lambda: bank_reference_claimed(
            references,
            recorder,
            bureau=context.bureau,
            reference=payment.bank_reference,
            disbursement_id=disbursement_id,
            command_id=context.command_id,
        ),
    )
    return replace(outcome, payment_id=payment_id)


async def open_arrears(
    request: OpenArrearsRequest, context: Context, *, recorder: EventRecorder, calendar: WorkdayCalendar
) -> Outcome:
    """Record arrears with the due date of their term (moved off a day off on the calendar in force)."""
    await _refuse_a_link_to_another_case(request, context, recorder)
    arrears_id = new_id(context.command_id, "arrears")
    today = context.now.astimezone(SHANGHAI).date()
    event = record_arrears(arrears_id, request, today=today, calendar=calendar)
    stream = arrears_stream(arrears_id)
    result = await recorder.append(_recording(context, stream, ARREARS, 0), _wrap([event], context))
    return Outcome(
        arrears_id, result.events[-1].version, [e.event_type for e in result.events], result.duplicate
    )


async def repay_arrears(
    arrears_id: str, repayment: RepaymentReport, context: Context, *, recorder: EventRecorder
) -> Outcome:
    """Record a repayment, never above what is owed."""
    today: date = context.now.astimezone(SHANGHAI).date()
    return await _decide(
        arrears_stream(arrears_id),
        ARREARS,
        context,
        recorder,
        fold_arrears,
        lambda a: a.repay(repayment, today),
    )


async def change_settings(stuck_after_workdays: int, context: Context, *, recorder: EventRecorder) -> int:
    """Record the bureau's dashboard settings; return the new stream version."""
    stream = settings_stream(context.bureau)
    for _ in range(MAX_ATTEMPTS):
        version = await recorder.stream_version(stream)
        event = DisbursementSettingsChanged(stuck_after_workdays=stuck_after_workdays)
        try:
            result = await recorder.append(
                _recording(context, stream, SETTINGS, version), _wrap([event], context)
            )
        except ConcurrencyError:
            continue
        return result.events[-1].version
    raise ConcurrencyError(stream, -1)


async def stuck_after_workdays(bureau: str, default: int, *, recorder: EventRecorder) -> int:
    """Return the bureau's setting in force, or the service default."""
    events = await recorder.read_stream(settings_stream(bureau))
    return int(events[-1].data["stuck_after_workdays"]) if events else default
