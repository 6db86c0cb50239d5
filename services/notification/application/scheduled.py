"""The scheduler's round: fire every ladder step that has come, once, then mark it fired.

Steps are marked fired only after their deliveries are recorded (with ids derived from the step), so a
crash in between fires the step again and records nothing twice; a step that came while the service was
down fires on the first round after start.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.notification.application.context import Notifying
from services.notification.application.intents import Intent, section_subject, staff_subject
from services.notification.application.money_steps import money_step_intents
from services.notification.application.policies import CaseFacts, day_of
from services.notification.application.supervision import issue_order, new_order
from services.notification.application.withdrawal import step_cause, withdraw_stale_round
from services.notification.domain.deadlines import Step, overdue_workdays

LEASE = timedelta(minutes=2)
People = list[tuple[str | None, str]]  # (staff id, name); no staff id: the section itself
REMINDERS = {Step.DUE_SOON: "task_due_soon", Step.DUE_TODAY: "task_due_today"}


async def fire_due_steps(n: Notifying, limit: int = 100) -> int:
    """Fire the steps that have come; return how many steps fired."""
    now = n.clock()
    fired = 0
    for doc in await n.deadlines.claim_due(now, limit, LEASE):
        due = [s for s in doc["steps"] if s.get("fired_at") is None and s["fire_at"] <= now]
        for step in due:
            await n.tell(await intents_for_step(n, doc, step, now))
        stale = await n.deadlines.mark_fired(doc, [s["step"] for s in due], now)
        # The ladder ended or moved while these steps fired: its own withdrawal may have run before their
        # messages were recorded, so what they told is withdrawn here.
        await withdraw_stale_round(n, doc, stale, now)
        fired += len(due)
    return fired


async def intents_for_step(
    n: Notifying, doc: dict[str, Any], step: dict[str, Any], now: datetime
) -> list[Intent]:
    """Return who a ladder step tells, issuing the supervision order when the step is the last."""
    if doc.get("kind") is not None:
        return await money_step_intents(n, doc, step, now)  # a disbursement or arrears ladder
    facts = await n.knowledge.case(doc["case_id"])
    if facts is None or facts.bureau != doc["bureau"]:
        return []  # unknown, or (never from its own stream) another bureau's case: no one of it is told
    kind = Step(step["step"])
    cause = step_cause(doc["_id"], step)
    calendar = await n.calendar.current()
    overdue = overdue_workdays(calendar, doc["due_at"], now)
    variables = _variables(facts, doc, overdue)
    concierge: People = [(facts.concierge_id, facts.concierge_name or "")] if facts.concierge_id else []
    if kind in REMINDERS:
        return _to(concierge, doc, cause, REMINDERS[kind], variables, escalation=False)
    chiefs: People = list(await n.knowledge.section_chiefs(doc["bureau"], doc.get("section", "")))
    if kind is Step.OVERDUE:
        return _to(concierge + chiefs, doc, cause, "task_overdue", variables, escalation=True)
    leaders: People = list(await n.knowledge.leaders(doc["bureau"]))
    rules = await n.rules.current(doc["bureau"])
    issuer = (leaders[0][0] or "system", leaders[0][1]) if leaders else ("system", "系统（按督办规则）")
    to = [staff for staff, _ in chiefs + concierge if staff]
    order_due = calendar.add_workdays(now, rules.supervision_deadline_workdays).due
    order = await issue_order(n, doc, new_order(doc, issuer, to, overdue, order_due, rules.version))
    order_vars = {
        **variables,
        "order_id": order.order_id,
        "issued_by": order.issued_by_name,
        "order_due_date": day_of(order.order_due_at),
    }
    section: People = (
        [] if chiefs else [(None, doc.get("section", ""))]
    )  # no chief on the roster: tell the section
    return _to(
        leaders + chiefs + concierge + section, doc, cause, "supervision_order", order_vars, escalation=True
    )


def _variables(facts: CaseFacts, doc: dict[str, Any], overdue: int) -> dict[str, Any]:
    return {
        "case_id": facts.case_id,
        "enterprise_name": facts.enterprise_name,
        "section": doc.get("section", ""),
        "due_date": day_of(doc["due_at"]),
        "overdue_workdays": overdue,
    }


def _to(
    people: People,
    doc: dict[str, Any],
    cause: str,
    template: str,
    variables: dict[str, Any],
    escalation: bool,
) -> list[Intent]:
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
                doc["case_id"],
                recipient,
                template,
                {**variables, "recipient_name": name},
                escalation,
            )
        )
    return intents
