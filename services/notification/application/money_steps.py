"""Who a money ladder's step tells: whoever answers for the money first, leadership when it still waits.

The person who answers for a disbursement or arrears record is the case's concierge when the money answers a
case with one; otherwise the chiefs of the bureau's money section (rules: `money_section`); otherwise leadership.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from services.notification.application.context import Notifying
from services.notification.application.intents import Intent, section_subject, staff_subject
from services.notification.application.money import FUND_NAMES, yuan
from services.notification.application.policies import CaseFacts, day_of
from services.notification.application.withdrawal import step_cause
from services.notification.domain.deadlines import EscalationRules, Step
from services.notification.domain.money_deadlines import overdue_days
from shared.contracts.disbursement import STAGE_LABELS
from shared.workdays.calendar import SHANGHAI

People = list[tuple[str | None, str]]  # (staff id, name); no staff id: the money section itself
TEMPLATES = {
    Step.STUCK: ("disbursement_stuck", False),
    Step.STUCK_ESCALATED: ("disbursement_stuck_escalated", True),
    Step.ARREARS_DUE_SOON: ("arrears_due_soon", False),
    Step.ARREARS_DUE_TODAY: ("arrears_due_today", False),
    Step.ARREARS_OVERDUE: ("arrears_overdue", True),
    Step.ARREARS_ESCALATED: ("arrears_escalated", True),
}
TELLS_LEADERSHIP = frozenset({Step.STUCK_ESCALATED, Step.ARREARS_ESCALATED})
NO_CASE = "—"


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def disbursement_variables(doc: dict[str, Any], now: datetime, workdays_stuck: int) -> dict[str, Any]:
    """Return what a stuck-disbursement template is given."""
    return {
        "case_id": doc.get("case_id") or NO_CASE,
        "disbursement_id": doc["disbursement_id"],
        "enterprise_name": doc["enterprise_name"],
        "fund_name": FUND_NAMES.get(doc["fund_type"], "拨付资金"),
        "amount": yuan(doc["allocated"]),
        "stage": doc["status"],
        "stage_label": STAGE_LABELS.get(doc["status"], doc["status"]),
        "since": day_of(_aware(doc["last_change_at"])),
        "stuck_workdays": workdays_stuck,
    }


def arrears_variables(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Return what an arrears template is given."""
    return {
        "case_id": doc.get("case_id") or NO_CASE,
        "arrears_id": doc["arrears_id"],
        "enterprise_name": doc["enterprise_name"],
        "debtor": doc["debtor"],
        "purpose": doc["purpose"],
        "outstanding": yuan(doc["outstanding"]),
        "due_date": doc["due_on"],
        "overdue_days": overdue_days(date.fromisoformat(doc["due_on"]), now),
    }


async def case_of(n: Notifying, doc: dict[str, Any]) -> CaseFacts | None:
    """Return the facts of the case the money answers, or None when unknown or not a case of this money."""
    if not doc.get("case_id"):
        return None
    facts = await n.knowledge.case(doc["case_id"])
    # The case id is typed in by the money's bureau: one of another bureau, or of another enterprise, is no
    # case of this money, and its concierge (another bureau's person) must not be told of it.
    if facts is None or facts.bureau != doc["bureau"]:
        return None
    if doc.get("credit_code") and facts.credit_code != doc["credit_code"]:
        return None
    return facts


async def responsible(n: Notifying, doc: dict[str, Any], rules: EscalationRules) -> People:
    """Return who answers for the money: the case's concierge, else the money section's chiefs, else leadership."""
    facts = await case_of(n, doc)
    if facts is not None and facts.concierge_id:
        return [(facts.concierge_id, facts.concierge_name or "")]
    if rules.money_section:
        chiefs: People = list(await n.knowledge.section_chiefs(doc["bureau"], rules.money_section))
        return chiefs or [(None, rules.money_section)]
    return list(await n.knowledge.leaders(doc["bureau"]))


async def money_step_intents(
    n: Notifying, doc: dict[str, Any], step: dict[str, Any], now: datetime
) -> list[Intent]:
    """Return who a money ladder step tells, and what."""
    kind = Step(step["step"])
    template, escalation = TEMPLATES[kind]
    cause = step_cause(doc["_id"], step)
    rules = await n.rules.current(doc["bureau"])
    people = await responsible(n, doc, rules)
    if kind is Step.ARREARS_OVERDUE and rules.money_section:
        people += list(await n.knowledge.section_chiefs(doc["bureau"], rules.money_section))
    if kind in TELLS_LEADERSHIP:
        people += list(await n.knowledge.leaders(doc["bureau"]))
    if doc["kind"] == "disbursement":
        calendar = await n.calendar.current()
        since = _aware(doc["last_change_at"]).astimezone(SHANGHAI).date()
        stuck = calendar.workdays_between(since, now.astimezone(SHANGHAI).date())
        variables = disbursement_variables(doc, now, stuck)
    else:
        variables = arrears_variables(doc, now)
    intents, seen = [], set()
    for staff_id, name in people:
        recipient = (
            staff_subject(doc["bureau"], staff_id) if staff_id else section_subject(doc["bureau"], name)
        )
        if recipient in seen:
            continue
        seen.add(recipient)
        intents.append(
            Intent(
                cause,
                doc["bureau"],
                doc.get("case_id"),
                recipient,
                template,
                {**variables, "recipient_name": name},
                escalation,
            )
        )
    return intents
