"""Money that waits is chased: deadline ladders for disbursements stuck in a stage and for arrears due dates.

Each disbursement and each arrears record has one deadline document (the task deadlines' collection, with a
`kind`), planned from its stream's events and guarded by the stream version: a redelivered or replayed older
event changes nothing, a new stage moves the ladder, the credit or the repayment closes it.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel

from services.notification.application.context import Notifying
from services.notification.application.withdrawal import end_ladder, withdraw_moved_away
from services.notification.domain.deadlines import EscalationRules, Timer
from services.notification.domain.money_deadlines import (
    FINAL_STATUSES,
    arrears_ladder,
    stuck_ladder,
    stuck_since,
)
from shared.contracts.disbursement import (
    DEFAULT_STUCK_AFTER_WORKDAYS,
    DISBURSEMENT_EVENT_MODELS,
    ArrearsRecorded,
    ArrearsRepaid,
    DisbursementOpened,
    DisbursementPaymentCredited,
    DisbursementSettingsChanged,
    DisbursementStageReported,
    parse_disbursement_event,
)
from shared.contracts.envelope import EventEnvelope
from shared.workdays.calendar import SHANGHAI, WorkdayCalendar

log = logging.getLogger(__name__)
DISBURSEMENT, ARREARS = "disbursement", "arrears"


def deadline_id(kind: str, aggregate_id: str) -> str:
    """Return the deadline document id of a disbursement or arrears record."""
    return f"{kind}|{aggregate_id}"


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def money_timers(
    doc: dict[str, Any], calendar: WorkdayCalendar, rules: EscalationRules, today: date | None = None
) -> list[Timer]:
    """Return the ladder a money deadline document calls for under a calendar and rules (as of today)."""
    if doc["kind"] == DISBURSEMENT:
        return stuck_ladder(calendar, _aware(doc["last_change_at"]), doc["stuck_after"], rules)
    return arrears_ladder(calendar, date.fromisoformat(doc["due_on"]), rules, today)


async def plan_money_deadlines(n: Notifying, payload: BaseModel, env: EventEnvelope) -> None:
    """Keep each disbursement's stuck ladder and each arrears ladder in step with its stream's events."""
    if isinstance(payload, DisbursementOpened):
        fields = {
            "kind": DISBURSEMENT,
            "bureau": env.bureau,
            "case_id": payload.case_id,
            "disbursement_id": payload.disbursement_id,
            "enterprise_name": payload.enterprise.name,
            "credit_code": payload.enterprise.credit_code,
            "fund_type": payload.fund_type.value,
            "allocated": str(payload.allocated),
            "status": "opened",
            # The disbursement service's opening time, too: counted from until a report brings an own time.
            "opened_at": env.occurred_at,
            "own_at": None,
            "last_change_at": env.occurred_at,
        }
        await _plan_stuck(n, env, deadline_id(DISBURSEMENT, payload.disbursement_id), fields)
    elif isinstance(payload, DisbursementStageReported):
        status = payload.status.value if payload.status else None
        await _moved(
            n,
            env,
            payload.disbursement_id,
            payload.at,
            status or payload.stage.value,
            status,
            payload.supersedes_at,
        )
    elif isinstance(payload, DisbursementPaymentCredited):
        status = "credited" if payload.fully_credited else "partially_credited"
        await _moved(n, env, payload.disbursement_id, payload.credited_at, status, status)
    elif isinstance(payload, DisbursementSettingsChanged):
        if await n.disbursements.set_stuck_after(env.bureau, payload.stuck_after_workdays, env.version):
            await replan_money(n, env.bureau, payload.stuck_after_workdays)
    elif isinstance(payload, ArrearsRecorded):
        await _plan_arrears(n, env, payload)
    elif isinstance(payload, ArrearsRepaid):
        await _repaid(n, env, payload)


async def _plan_stuck(
    n: Notifying,
    env: EventEnvelope,
    doc_id: str,
    fields: dict[str, Any],
    moved_from: dict[str, Any] | None = None,
) -> None:
    calendar = await n.calendar.current()
    rules = await n.rules.current(env.bureau)
    stuck_after = await n.disbursements.stuck_after(env.bureau, DEFAULT_STUCK_AFTER_WORKDAYS)
    # When this stall began to be counted: steps fired since are this stall's, and a changed setting does not
    # plan them again (a report that moves nothing keeps the stall as it was).
    same_stall = moved_from is not None and moved_from.get("last_change_at") == fields["last_change_at"]
    counted_from = moved_from.get("counted_from") if same_stall and moved_from else None
    fields = {**fields, "stuck_after": stuck_after, "counted_from": counted_from or n.clock()}
    timers = stuck_ladder(calendar, fields["last_change_at"], stuck_after, rules)
    # Before the new plan, so a crash in between withdraws again on redelivery: a held "stuck in stage X
    # since day D" is not true once the count restarts (unless the new count reminds on the same day).
    await withdraw_moved_away(n, moved_from, timers, env, "stuck count restarted")
    await n.deadlines.plan_for(doc_id, {**fields, "due_at": timers[0].fire_at}, env.version, timers)


async def _moved(
    n: Notifying,
    env: EventEnvelope,
    disbursement_id: str,
    at: datetime,
    status: str,
    said: str | None,
    corrects: datetime | None = None,
) -> None:
    # A new stage or a payment restarts the count from its own time; the credit or a cancellation ends it.
    doc_id = deadline_id(DISBURSEMENT, disbursement_id)
    doc = await n.deadlines.get(doc_id)
    if doc is None:
        log.warning("stage of disbursement %s before its opening: no ladder", disbursement_id)
        return
    if not doc["open"] and said is None:
        return  # a late report after the credit, from before events said the status: it stays ended
    if status in FINAL_STATUSES:
        await end_ladder(n, doc_id, env, status)
        return
    if doc.get("v", 0) >= env.version:
        return  # redelivered or replayed: the ladder already counts this event (and maybe newer ones)
    if "opened_at" in doc and corrects is None:
        opened_at, own_at = _aware(doc["opened_at"]), doc.get("own_at")
        # The latest own time in force, not the latest to arrive: a late report of an earlier stage moves nothing.
        own_at = max(_aware(own_at), at) if own_at is not None else at
    else:
        # A correction may take back the latest own time (a stage's date mistyped): the times in force are read
        # from the stream, this event included; so is a ladder planned before the own times were kept.
        opened, own_at = await _clock_in_stream(n, env.stream_id, env.version)
        # Its stream not in this event store: keep the count it had (the later of the opening and reports).
        opened_at = opened or _aware(doc.get("opened_at") or doc["last_change_at"])
        own_at = own_at if opened else max(_aware(doc.get("own_at") or opened_at), at)
    kept = ("kind", "bureau", "case_id", "disbursement_id", "enterprise_name", "fund_type", "allocated")
    # A ladder planned before the credit code was kept has none: its case is then checked by bureau alone.
    facts = {k: doc[k] for k in kept} | {"credit_code": doc.get("credit_code")}
    clock = {"opened_at": opened_at, "own_at": own_at, "last_change_at": stuck_since(opened_at, [own_at])}
    await _plan_stuck(n, env, doc_id, {**facts, "status": status, **clock}, moved_from=doc)


async def _clock_in_stream(
    n: Notifying, stream_id: str, upto_version: int
) -> tuple[datetime | None, datetime | None]:
    """Return the opening's recording time and the latest own time in force of a disbursement's events up to a
    version (None for what they do not tell): a corrected stage time no longer counts."""
    opened_at: datetime | None = None
    own_times: list[tuple[str, datetime]] = []
    for event in await n.recorder.read_stream(stream_id):
        known = (event.event_type, event.schema_version) in DISBURSEMENT_EVENT_MODELS
        if event.version > upto_version or not known:
            continue
        payload = parse_disbursement_event(event.event_type, event.schema_version, event.data)
        if isinstance(payload, DisbursementOpened):
            opened_at = event.occurred_at
        elif isinstance(payload, DisbursementStageReported):
            if payload.supersedes_at is not None:
                own_times = _without_one(own_times, (_reported(payload), payload.supersedes_at))
            own_times.append((_reported(payload), payload.at))
        elif isinstance(payload, DisbursementPaymentCredited):
            own_times.append(("payment", payload.credited_at))
    return opened_at, max((at for _, at in own_times), default=None)


def _reported(e: DisbursementStageReported) -> str:
    # What a correction names, as the disbursement service reads it: approvals are one stage per approver.
    return f"{e.stage.value}|{e.approver or ''}" if e.stage.value == "approved" else e.stage.value


def _without_one(
    times: list[tuple[str, datetime]], corrected: tuple[str, datetime]
) -> list[tuple[str, datetime]]:
    """Return the times with one report of the corrected stage at the corrected time left out."""
    for i, time in enumerate(times):
        if time == corrected:
            return times[:i] + times[i + 1 :]
    return times


async def mend_stuck_clocks(n: Notifying) -> int:
    """Count each open stuck ladder planned before own times were kept from its stream's own times; return how
    many moved (run once at start: a ladder with no later event would keep the recording's count)."""
    mended = 0
    for doc in await n.deadlines.open_deadlines():
        if doc.get("kind") != DISBURSEMENT or "opened_at" in doc:
            continue
        # The disbursement service's stream of it (services/disbursement/domain/streams.py names it so).
        stream_id = f"disbursement-{doc['disbursement_id']}"
        try:
            opened_at, own_at = await _clock_in_stream(n, stream_id, doc["v"])
        except ValueError as exc:  # pydantic's ValidationError too: a stream this code cannot read
            # Not worth a service that will not start: this ladder keeps its count until its next event.
            log.error("stuck ladder of %s not mended: its stream cannot be read: %s", stream_id, exc)
            continue
        if opened_at is None:
            continue  # its stream is not in this event store: it keeps its count
        clock = {"opened_at": opened_at, "own_at": own_at, "last_change_at": stuck_since(opened_at, [own_at])}
        timers = money_timers(
            {**doc, **clock}, await n.calendar.current(), await n.rules.current(doc["bureau"])
        )
        await n.deadlines.replan(doc, timers, {**clock, "due_at": timers[0].fire_at})
        mended += 1
    return mended


async def replan_money(n: Notifying, bureau: str, stuck_after: int) -> int:
    """Move a bureau's open stuck ladders to its new "stuck after N working days"; return how many."""
    calendar = await n.calendar.current()
    rules = await n.rules.current(bureau)
    moved = 0
    for doc in await n.deadlines.open_money(DISBURSEMENT, bureau):
        doc = {**doc, "stuck_after": stuck_after}
        ladder = money_timers(doc, calendar, rules)
        told = told_this_stall(doc)  # a changed setting tells nobody again of this stall
        timers = [t for t in ladder if t.step.value not in told]
        await n.deadlines.replan(doc, timers, {"stuck_after": stuck_after, "due_at": ladder[0].fire_at})
        moved += 1
    return moved


def told_this_stall(doc: dict[str, Any]) -> set[str]:
    """Return the steps that fired since the disbursement's current stall began to be counted (none for arrears)."""
    if doc.get("kind") != DISBURSEMENT:
        return set()
    since = _aware(doc.get("counted_from") or doc["last_change_at"])
    return {s["step"] for s in doc.get("steps", []) if s.get("fired_at") and _aware(s["fired_at"]) >= since}


async def _plan_arrears(n: Notifying, env: EventEnvelope, e: ArrearsRecorded) -> None:
    fields = {
        "kind": ARREARS,
        "bureau": env.bureau,
        "case_id": e.case_id,
        "arrears_id": e.arrears_id,
        "enterprise_name": e.enterprise.name,
        "credit_code": e.enterprise.credit_code,
        "debtor": e.debtor,
        "purpose": e.purpose,
        "outstanding": str(e.amount_owed),
        "due_on": e.due_on.isoformat(),
        "due_at": datetime.combine(e.due_on, datetime.max.time(), SHANGHAI),
    }
    today = n.clock().astimezone(SHANGHAI).date()
    timers = arrears_ladder(await n.calendar.current(), e.due_on, await n.rules.current(env.bureau), today)
    await n.deadlines.plan_for(deadline_id(ARREARS, e.arrears_id), fields, env.version, timers)


async def _repaid(n: Notifying, env: EventEnvelope, e: ArrearsRepaid) -> None:
    doc_id = deadline_id(ARREARS, e.arrears_id)
    if e.outstanding <= 0:
        await end_ladder(n, doc_id, env, "repaid")
        return
    doc = await n.deadlines.get(doc_id)
    if doc is None:
        log.warning("repayment of arrears %s before its record: no ladder", e.arrears_id)
        return
    # Partly repaid: the ladder goes on, telling what is still owed.
    fields = {k: v for k, v in doc.items() if k not in ("_id", "v", "open", "steps", "next_at", "claim")}
    fields.pop("claimed_until", None)
    due_on, today = date.fromisoformat(doc["due_on"]), n.clock().astimezone(SHANGHAI).date()
    timers = arrears_ladder(await n.calendar.current(), due_on, await n.rules.current(env.bureau), today)
    await n.deadlines.plan_for(doc_id, {**fields, "outstanding": str(e.outstanding)}, env.version, timers)
