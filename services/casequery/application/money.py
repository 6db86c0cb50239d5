"""The case's money: its linked disbursements (amount, stage, time to account) and their events in its history."""

from __future__ import annotations

from typing import Any

from services.casequery.application.history import Entry, case_entry
from services.casequery.projections.money import Money, time_to_account
from services.casequery.projections.money_store import CaseMoney
from shared.contracts.disbursement import STAGE_LABELS
from shared.eventstore.recorder import EventRecorder
from shared.workdays.published import PublishedCalendar


def _summary(event_type: str, data: dict[str, Any]) -> str:
    if event_type == "DisbursementOpened":
        return f"资金拨付：登记拨付 {data.get('allocated')} 元 (disbursement opened)"
    if event_type == "DisbursementStageReported":
        stage = str(data.get("stage"))
        return f"资金拨付：{STAGE_LABELS.get(stage, stage)} ({stage.replace('_', ' ')})"
    if event_type == "DisbursementPaymentCredited":
        return f"资金拨付：到账 {data.get('amount')} 元 (payment credited)"
    return f"资金拨付：{event_type}"


async def _credit_code_of(doc: Money, recorder: EventRecorder) -> str | None:
    if "credit_code" in doc:
        return str(doc["credit_code"])
    # Folded before the credit code was kept in the document: the opening event names the enterprise.
    events = await recorder.read_stream(doc["stream_id"])
    if not events or events[0].event_type != "DisbursementOpened":
        return None
    return str(events[0].data.get("enterprise", {}).get("credit_code"))


async def linked_money(
    bureau: str, case_id: str, credit_code: str, *, money: CaseMoney, recorder: EventRecorder
) -> list[Money]:
    """Return the money documents linked to the case that are its bureau's and its enterprise's, oldest first.

    Why: the disbursement service records the case id a caller names; money of another enterprise naming this
    case must not show on it, nor in its history (nor another bureau's: the store reads by bureau)."""
    return [
        doc
        for doc in await money.of_case(bureau, case_id)
        if doc.get("bureau") == bureau and await _credit_code_of(doc, recorder) == credit_code
    ]


def case_credit_code(entries: list[Entry]) -> str | None:
    """Return the credit code of the case's enterprise, from the CaseOpened entry of its history."""
    for e in entries:
        if e["source"] == "case" and e["event_type"] == "CaseOpened":
            return str(e["data"]["enterprise"]["credit_code"])
    return None


async def disbursements_of(
    bureau: str,
    case_id: str,
    credit_code: str,
    *,
    money: CaseMoney,
    recorder: EventRecorder,
    calendar: PublishedCalendar,
) -> list[dict[str, Any]]:
    """Return the case's disbursements with their time to account (the calendar read only when needed)."""
    linked = await linked_money(bureau, case_id, credit_code, money=money, recorder=recorder)
    entries = [doc["entry"] for doc in linked]
    credited = [e for e in entries if e["allocation_received_at"] and e["fully_credited_at"]]
    in_force = await calendar.current() if credited else None
    return [
        {
            **e,
            "time_to_account": None
            if in_force is None
            else time_to_account(e["allocation_received_at"], e["fully_credited_at"], in_force),
        }
        for e in entries
    ]


async def disbursement_history(
    bureau: str, case_id: str, credit_code: str | None, *, money: CaseMoney, recorder: EventRecorder
) -> list[Entry]:
    """Return the events of the case's disbursements as history entries, in the store's order."""
    entries: list[Entry] = []
    if credit_code is None:
        return entries  # no CaseOpened: no enterprise to match the money against
    for doc in await linked_money(bureau, case_id, credit_code, money=money, recorder=recorder):
        entries += [
            {**case_entry(e), "source": "disbursement", "summary": _summary(e.event_type, e.data)}
            for e in await recorder.read_stream(doc["stream_id"])
            if e.bureau == bureau
        ]
    entries.sort(key=lambda e: (e["position"] is None, e["position"] or 0, e["recorded_at"]))
    return entries
