"""How a report came and who caused it, for the timeline and the stages of a disbursement's answer.

The report's own `reported_by` and `approver` are what the report says; over Kafka a finance system names
them itself, so the event's actor (the signed-in person, the bureau key, or the integration key that signed
the report) is what tells a director's own approval from one a finance system reported in the director's name.
"""

from __future__ import annotations

from datetime import datetime

from services.disbursement.application.answers import Via
from services.disbursement.domain.disbursement import Disbursement, Payment, Report
from shared.contracts.envelope import Actor


def via(request_ref: str | None, actor: Actor | None) -> Via | None:
    """HTTP, or a Kafka report (every one has a request_id), signed or believed unsigned; None if unknown."""
    if actor is None:  # folded without its envelopes
        return None
    if request_ref is None:
        return "http"
    return "kafka" if actor.key_id else "kafka_unsigned"


def entered_by(d: Disbursement, stage: str, at: datetime) -> Report | Payment | None:
    """The report in force (or the payment) that entered a stage at that time."""
    for report in d.in_force():
        if report.event.stage.value == stage and report.event.at == at:
            return report
    return next((p for p in d.payments if p.event.credited_at == at), None)


def how_it_came(entry: Report | Payment | None) -> dict[str, object]:
    """The `via` and `actor` fields of an answer for a report or payment."""
    if entry is None:
        return {"via": None, "actor": None}
    return {"via": via(entry.event.request_ref, entry.actor), "actor": entry.actor}
