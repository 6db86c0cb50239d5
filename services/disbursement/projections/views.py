"""Read-model documents (pure): one per disbursement and per arrears, and what each adds to the dashboard.

Sums are kept in fen (exact integers): MongoDB adds integers exactly with $inc, so the dashboard's totals
are exact without any float. The dashboard is a set of counters per bureau (state figures) and per day
(time to account, by the Asia/Shanghai day the money was fully credited); a view's contribution to them is
a function of the view alone, so a change adds "new minus old" and a rebuild adds up every view afresh.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from services.disbursement.domain.arrears import Arrears
from services.disbursement.domain.disbursement import Disbursement
from services.disbursement.domain.timing import time_to_account
from shared.contracts.amounts import to_fen
from shared.contracts.disbursement import Stage, Status
from shared.workdays.calendar import SHANGHAI, WorkdayCalendar

Doc = dict[str, Any]
Counters = dict[str, dict[str, int]]  # dashboard document id -> dotted path -> increment
FINAL = (Status.CREDITED.value, Status.CANCELLED.value)


def totals_id(bureau: str) -> str:
    """Return the id of a bureau's totals document."""
    return f"totals:{bureau}"


def day_id(bureau: str, day: str) -> str:
    """Return the id of a bureau's time-to-account document for one day (YYYY-MM-DD)."""
    return f"day:{bureau}:{day}"


def disbursement_view(d: Disbursement, bureau: str, calendar: WorkdayCalendar) -> Doc:
    """Return the read-model document of a disbursement."""
    o = d.opened
    tta = time_to_account(d, calendar)
    credited_at = d.fully_credited_at
    status = d.status.value
    return {
        "_id": o.disbursement_id,
        "bureau": bureau,
        "version": d.version,
        "enterprise": o.enterprise.model_dump(),
        "case_id": o.case_id,
        "source": o.source,
        "fund_type": o.fund_type.value,
        "policy_reference": o.policy_reference,
        "allocated_fen": to_fen(d.allocated),
        "credited_fen": to_fen(d.credited),
        "outstanding_fen": to_fen(d.outstanding),
        "status": status,
        "active": status not in FINAL,
        "opened_at": d.opened_at,
        "last_change_at": d.last_change_at(),
        "allocation_received_at": d.stage_time(Stage.ALLOCATION_RECEIVED),
        "fully_credited_at": credited_at,
        "credited_day": credited_at.astimezone(SHANGHAI).date().isoformat() if credited_at else None,
        "payments": len(d.payments),
        "tta_seconds": tta.seconds if tta else None,
        "tta_workdays": tta.workdays if tta else None,
        "within_one_workday": tta.within_one_workday if tta else None,
    }


def arrears_view(a: Arrears, bureau: str) -> Doc:
    """Return the read-model document of arrears."""
    r = a.recorded
    settled = a.settled_on
    return {
        "_id": r.arrears_id,
        "bureau": bureau,
        "version": a.version,
        "enterprise": r.enterprise.model_dump(),
        "case_id": r.case_id,
        "debtor": r.debtor,
        "purpose": r.purpose,
        "owed_fen": to_fen(r.amount_owed),
        "repaid_fen": to_fen(a.repaid),
        "outstanding_fen": to_fen(a.outstanding),
        "delivered_on": r.delivered_on.isoformat(),
        "agreed_term_days": r.agreed_term_days,
        "due_on": r.due_on.isoformat(),
        "settled_on": settled.isoformat() if settled else None,
        "days_late": a.days_late(),
        "open": a.outstanding > 0,
        "repayments": len(a.repayments),
    }


def contributions(view: Doc | None) -> Counters:
    """Return what one view adds to its bureau's dashboard counters."""
    if view is None:
        return {}
    bureau = view["bureau"]
    out: Counters = defaultdict(dict)
    totals = out[totals_id(bureau)]
    if "owed_fen" in view:  # arrears
        for name in ("owed_fen", "repaid_fen", "outstanding_fen"):
            totals[f"arrears.{name}"] = view[name]
        totals["arrears.count"] = 1
        totals["arrears.open"] = int(view["open"])
        if view["open"]:  # open arrears by due day: "overdue" is the sum of the days before today
            totals[f"arrears.due.{view['due_on']}.count"] = 1
            totals[f"arrears.due.{view['due_on']}.outstanding_fen"] = view["outstanding_fen"]
        return dict(out)
    status = view["status"]
    totals.update(
        {
            "disbursements": 1,
            "allocated_fen": view["allocated_fen"],
            "credited_fen": view["credited_fen"],
            "outstanding_fen": view["outstanding_fen"],
            f"by_status.{status}.count": 1,
            f"by_status.{status}.allocated_fen": view["allocated_fen"],
            f"by_status.{status}.credited_fen": view["credited_fen"],
        }
    )
    if view["active"]:
        # Active money by the Asia/Shanghai day of its last change: "stuck" is the sum of the days before a
        # cutoff, so the dashboard reads it from this document instead of scanning the active disbursements.
        last_day = view["last_change_at"].astimezone(SHANGHAI).date().isoformat()
        totals[f"active.{last_day}.count"] = 1
        totals[f"active.{last_day}.outstanding_fen"] = view["outstanding_fen"]
    if view["tta_seconds"] is not None:
        # The same figures per day (for a period) and all time (so the default dashboard reads one document).
        for counters in (out[day_id(bureau, view["credited_day"])], totals):
            counters["tta.credited"] = 1
            counters["tta.within_one_workday"] = int(bool(view["within_one_workday"]))
            counters[f"tta.minutes.{view['tta_seconds'] // 60}"] = 1
    return dict(out)


def delta(old: Doc | None, new: Doc | None) -> Counters:
    """Return the counter changes that replacing old by new makes (zero changes left out)."""
    before, after = contributions(old), contributions(new)
    out: Counters = {}
    for doc_id in before.keys() | after.keys():
        paths = before.get(doc_id, {}).keys() | after.get(doc_id, {}).keys()
        changes = {p: after.get(doc_id, {}).get(p, 0) - before.get(doc_id, {}).get(p, 0) for p in paths}
        if nonzero := {p: v for p, v in changes.items() if v}:
            out[doc_id] = nonzero
    return out


def add(into: Counters, more: Counters) -> Counters:
    """Add counters (the rebuild sums every view's contribution)."""
    for doc_id, paths in more.items():
        target = into.setdefault(doc_id, {})
        for path, value in paths.items():
            target[path] = target.get(path, 0) + value
    return into


def counters_as_documents(counters: Counters) -> list[Doc]:
    """Return counters as the nested documents that $inc builds (for the rebuild's inserts)."""
    docs = []
    for doc_id, paths in counters.items():
        doc: Doc = {"_id": doc_id}
        kind, bureau, *rest = doc_id.split(":", 2)
        doc.update(kind=kind, bureau=bureau, **({"day": rest[0]} if rest else {}))
        for path, value in paths.items():
            node = doc
            *parents, leaf = path.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value
        docs.append(doc)
    return docs


def is_stale(stored: Doc | None, version: int) -> bool:
    """Tell whether a stored view is older than this version (a view never moves backwards)."""
    return stored is None or int(stored["version"]) < version


def as_shanghai(moment: datetime | None) -> datetime | None:
    """Return a stored moment in Asia/Shanghai (+08:00), as the API answers."""
    return moment.astimezone(SHANGHAI) if moment else None
