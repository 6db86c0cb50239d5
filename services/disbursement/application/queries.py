"""Reads: a disbursement or arrears folded from its stream (always current), lists from the read models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.disbursement.application.answers import (
    ArrearsDetail,
    ArrearsPage,
    ArrearsSummary,
    DisbursementDetail,
    DisbursementPage,
    DisbursementSummary,
    RepaymentEntry,
    StageSpan,
    TimelineEntry,
    TimeToAccountAnswer,
)
from services.disbursement.application.commands import NotFound
from services.disbursement.application.provenance import entered_by, how_it_came
from services.disbursement.domain.arrears import days_overdue
from services.disbursement.domain.disbursement import Disbursement
from services.disbursement.domain.streams import (
    arrears_stream,
    disbursement_stream,
    fold_arrears,
    fold_disbursement,
)
from services.disbursement.domain.timing import spans, time_to_account
from services.disbursement.projections.dashboard import sum_before
from services.disbursement.projections.store import ReadModels
from services.disbursement.projections.views import totals_id
from shared.contracts.amounts import from_fen
from shared.contracts.disbursement import STAGE_LABELS, Stage
from shared.eventstore.recorder import EventRecorder
from shared.workdays.calendar import SHANGHAI, WorkdayCalendar


def _credited_before(instructed: datetime | None, credited_at: datetime) -> bool:
    # Out of order in the timeline: money credited before the instruction, whichever was reported first.
    return instructed is not None and credited_at < instructed


def timeline(d: Disbursement) -> list[TimelineEntry]:
    """Every report and payment as it came, ordered by its own time (then by when it was recorded)."""
    instructed = d.stage_time(Stage.PAYMENT_INSTRUCTED)
    entries = [
        TimelineEntry(
            kind="stage",
            stage=r.event.stage.value,
            label=STAGE_LABELS[r.event.stage.value],
            at=r.event.at,
            recorded_at=r.recorded_at,
            reported_by=r.event.reported_by,
            approver=r.event.approver,
            note=r.event.note,
            reason=r.event.reason,
            bank_reference=r.event.bank_reference,
            late=r.event.late,
            superseded=r.superseded,
            supersedes_at=r.event.supersedes_at,
            **how_it_came(r),
        )
        for r in d.reports
    ] + [
        TimelineEntry(
            kind="payment",
            stage="credited" if p.event.fully_credited else "partially_credited",
            label=STAGE_LABELS["credited" if p.event.fully_credited else "partially_credited"],
            at=p.event.credited_at,
            recorded_at=p.recorded_at,
            reported_by=p.event.reported_by,
            note=p.event.note,
            bank_reference=p.event.bank_reference,
            amount=p.event.amount,
            payment_id=p.event.payment_id,
            late=p.event.before_instruction or _credited_before(instructed, p.event.credited_at),
            superseded=False,
            **how_it_came(p),
        )
        for p in d.payments
    ]
    return sorted(entries, key=lambda e: (e.at, e.recorded_at or e.at))


async def disbursement_detail(
    disbursement_id: str, bureau: str, *, recorder: EventRecorder, calendar: WorkdayCalendar, now: datetime
) -> DisbursementDetail:
    """Return a disbursement of the bureau, folded from its stream; NotFound for any other."""
    stream = await recorder.read_stream(disbursement_stream(disbursement_id))
    d = fold_disbursement(stream)
    if d is None or stream[0].bureau != bureau:
        raise NotFound(disbursement_id)
    o, tta = d.opened, time_to_account(d, calendar)
    return DisbursementDetail(
        disbursement_id=o.disbursement_id,
        bureau=bureau,
        enterprise=o.enterprise,
        case_id=o.case_id,
        source=o.source,
        fund_type=o.fund_type.value,
        policy_reference=o.policy_reference,
        currency=o.currency,
        allocated=d.allocated,
        credited=d.credited,
        outstanding=d.outstanding,
        status=d.status.value,
        status_label=STAGE_LABELS[d.status.value],
        opened_at=d.opened_at,
        version=d.version,
        timeline=timeline(d),
        stages=[
            StageSpan(
                stage=s.stage,
                label=STAGE_LABELS[s.stage],
                entered_at=s.entered_at,
                left_at=s.left_at,
                hours=s.hours,
                workdays=s.workdays,
                **how_it_came(entered_by(d, s.stage, s.entered_at)),
            )
            for s in spans(d, calendar, now)
        ],
        time_to_account=TimeToAccountAnswer(
            hours=tta.hours, workdays=tta.workdays, within_one_workday=tta.within_one_workday
        )
        if tta
        else None,
    )


async def arrears_detail(
    arrears_id: str, bureau: str, *, recorder: EventRecorder, today: date
) -> ArrearsDetail:
    """Return arrears of the bureau, folded from their stream; NotFound for any other."""
    stream = await recorder.read_stream(arrears_stream(arrears_id))
    a = fold_arrears(stream)
    if a is None or stream[0].bureau != bureau:
        raise NotFound(arrears_id)
    r = a.recorded
    return ArrearsDetail(
        arrears_id=r.arrears_id,
        enterprise=r.enterprise,
        case_id=r.case_id,
        debtor=r.debtor,
        purpose=r.purpose,
        amount_owed=r.amount_owed,
        repaid=a.repaid,
        outstanding=a.outstanding,
        delivered_on=r.delivered_on,
        agreed_term_days=r.agreed_term_days,
        due_on=r.due_on,
        overdue=a.is_overdue(today),
        overdue_days=a.overdue_days(today),
        settled_on=a.settled_on,
        days_late=a.days_late(),
        repayments=[
            RepaymentEntry(
                amount=p.amount,
                repaid_on=p.repaid_on,
                reference=p.reference,
                note=p.note,
                days_late=p.days_late,
                recorded_at=e.recorded_at,
            )
            for p, e in zip(a.repayments, stream[1:], strict=True)
        ],
        version=a.version,
    )


def summary(doc: dict[str, Any], stuck_before: datetime) -> DisbursementSummary:
    """Return a list item from a view document."""
    return DisbursementSummary(
        disbursement_id=doc["_id"],
        enterprise=doc["enterprise"],
        case_id=doc.get("case_id"),
        source=doc["source"],
        fund_type=doc["fund_type"],
        allocated=from_fen(doc["allocated_fen"]),
        credited=from_fen(doc["credited_fen"]),
        outstanding=from_fen(doc["outstanding_fen"]),
        status=doc["status"],
        opened_at=doc["opened_at"],
        last_change_at=doc["last_change_at"],
        overdue=bool(doc["active"]) and doc["last_change_at"] < stuck_before,
        time_to_account_hours=None if doc.get("tta_seconds") is None else round(doc["tta_seconds"] / 3600, 2),
    )


SMALL = 5_000  # a filter known to match at most this many views is read in one query, sorted by the server
FIRST_WINDOW = timedelta(hours=1)
OLDEST = datetime(2000, 1, 1, tzinfo=UTC)


async def newest(
    db: AsyncDatabase,
    names: ReadModels,
    bureau: str,
    needed: int,
    now: datetime,
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> list[dict[str, Any]]:
    """Return up to `needed` views matching query, newest opened first, reading back in doubling windows.

    Why windows: the embedded SecantusDB sorts a whole index range before it applies a limit (measured: 4 s
    for the first page of 100,000 views, 20 ms for one day of them), so the newest are read from ever older
    disjoint windows of opened_at until enough are found; the work follows the page asked for, not the store.
    Other conditions are checked here (`keep`), not in the query: with them the server picks another index.
    """
    found: list[dict[str, Any]] = []
    end, width = now + timedelta(minutes=5), FIRST_WINDOW  # a few minutes of clock drift between hosts
    while len(found) < needed and end > OLDEST:
        start = end - width
        window = {"bureau": bureau, "opened_at": {"$gte": start, "$lt": end}}
        cursor = db[names.views].find(window).sort([("opened_at", -1), ("_id", 1)])
        if keep is None:  # every view counts: the server need not send more than the page
            found += await cursor.limit(needed - len(found)).to_list()
        else:
            found += [doc for doc in await cursor.to_list() if keep(doc)][: needed - len(found)]
        end, width = start, width * 2
    return found


def known_total(
    totals: dict[str, Any], stage: str | None, overdue: bool | None, stuck_day: str
) -> int | None:
    """Return how many views a filter without an enterprise matches, from the dashboard counters (None: unknown)."""
    everything = int(totals.get("disbursements", 0))
    stuck = sum_before(totals.get("active") or {}, stuck_day)["count"]
    if stage is None:
        return {None: everything, True: stuck, False: everything - stuck}[overdue]
    if overdue is None:
        return int((totals.get("by_status") or {}).get(stage, {}).get("count", 0))
    return None


async def list_disbursements(
    db: AsyncDatabase,
    names: ReadModels,
    bureau: str,
    *,
    enterprise: str | None,
    stage: str | None,
    overdue: bool | None,
    stuck_before: datetime,
    limit: int,
    offset: int,
    now: datetime,
) -> DisbursementPage:
    """Return a page of the bureau's disbursements from the read model, newest first."""
    query: dict[str, Any] = {"bureau": bureau}
    if enterprise:
        query["enterprise.credit_code"] = enterprise
    if stage:
        query["status"] = stage
    if overdue is True:
        query.update(active=True, last_change_at={"$lt": stuck_before})
    elif overdue is False:
        query["$or"] = [{"active": False}, {"last_change_at": {"$gte": stuck_before}}]
    views = db[names.views]
    total = None
    if enterprise is None:
        totals = await db[names.dashboard].find_one({"_id": totals_id(bureau)}) or {}
        total = known_total(totals, stage, overdue, stuck_before.astimezone(SHANGHAI).date().isoformat())
    if total is None:
        total = await views.count_documents(query)
    if enterprise or total <= SMALL:
        cursor = views.find(query).sort([("opened_at", -1), ("_id", 1)]).skip(offset).limit(limit)
        docs = await cursor.to_list()
    else:

        def keep(doc: dict[str, Any]) -> bool:
            stuck = bool(doc["active"]) and doc["last_change_at"] < stuck_before
            return (stage is None or doc["status"] == stage) and (overdue is None or overdue == stuck)

        filtered = stage is not None or overdue is not None
        docs = (await newest(db, names, bureau, offset + limit, now, keep if filtered else None))[offset:]
    items = [summary(doc, stuck_before) for doc in docs]
    return DisbursementPage(items=items, total=total, limit=limit, offset=offset)


def arrears_query(
    bureau: str, *, enterprise: str | None, open_: bool | None, overdue: bool | None, today: date
) -> dict[str, Any] | None:
    """Return the read-model query of a filter on the bureau's arrears (None: no arrears can match).

    Overdue is decided as of today, as `GET /api/v1/arrears/{id}` decides it: still owed (`open`) and due
    before today; the view stores the due day, never an overdue flag that would age.
    """
    query: dict[str, Any] = {"bureau": bureau}
    if enterprise:
        query["enterprise.credit_code"] = enterprise
    if open_ is not None:
        query["open"] = open_
    day = today.isoformat()  # views keep YYYY-MM-DD: text order is date order
    if overdue is True:
        if open_ is False:
            return None  # settled arrears are never overdue
        query.update(open=True, due_on={"$lt": day})
    elif overdue is False:
        if open_ is True:
            query["due_on"] = {"$gte": day}
        elif open_ is None:
            query["$or"] = [{"open": False}, {"due_on": {"$gte": day}}]
    return query


def arrears_summary(doc: dict[str, Any], today: date) -> ArrearsSummary:
    """Return a list item from an arrears view, overdue as of today."""
    due = date.fromisoformat(doc["due_on"])
    late = days_overdue(due, still_owed=bool(doc["open"]), today=today)
    return ArrearsSummary(
        arrears_id=doc["_id"],
        enterprise=doc["enterprise"],
        case_id=doc.get("case_id"),
        debtor=doc["debtor"],
        purpose=doc["purpose"],
        amount_owed=from_fen(doc["owed_fen"]),
        repaid=from_fen(doc["repaid_fen"]),
        outstanding=from_fen(doc["outstanding_fen"]),
        delivered_on=date.fromisoformat(doc["delivered_on"]),
        agreed_term_days=doc["agreed_term_days"],
        due_on=due,
        open=bool(doc["open"]),
        overdue=late > 0,
        overdue_days=late,
        settled_on=date.fromisoformat(doc["settled_on"]) if doc.get("settled_on") else None,
        days_late=doc["days_late"],
    )


# Still owed first (so the overdue, due earliest, lead), each by due day; then settled arrears by due day.
ARREARS_ORDER = [("open", -1), ("due_on", 1), ("_id", 1)]


async def list_arrears(
    db: AsyncDatabase,
    names: ReadModels,
    bureau: str,
    *,
    enterprise: str | None,
    open_: bool | None,
    overdue: bool | None,
    today: date,
    limit: int,
    offset: int,
) -> ArrearsPage:
    """Return a page of the bureau's arrears from the read model: overdue first, by due date."""
    query = arrears_query(bureau, enterprise=enterprise, open_=open_, overdue=overdue, today=today)
    if query is None:
        return ArrearsPage(items=[], total=0, limit=limit, offset=offset)
    views = db[names.arrears]
    total = await views.count_documents(query)
    docs = await views.find(query).sort(ARREARS_ORDER).skip(offset).limit(limit).to_list()
    items = [arrears_summary(doc, today) for doc in docs]
    return ArrearsPage(items=items, total=total, limit=limit, offset=offset)
