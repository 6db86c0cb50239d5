"""A message meant for a case's concierge, held back (quiet hours), is not sent once that assignment ended.

The concierge's "you serve this enterprise", the enterprise's "this is your concierge", and the reminders of a
task's due date, which go to the concierge alone: held overnight and reassigned meanwhile, the former concierge
is not reminded of a case that is no longer theirs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from services.notification.application.policies import CaseFacts
from services.notification.domain.deliveries import Delivery
from services.notification.projections.knowledge import Knowledge

HELD = timedelta(minutes=1)  # held this long, the case's own record of its concierge is surely folded here
ASSIGNMENT_TEMPLATES = frozenset({"concierge_assigned", "concierge_introduced"})
CONCIERGE_REMINDERS = frozenset(
    {"task_due_soon", "task_due_today"}
)  # scheduled.REMINDERS: to the concierge only
CHECKED = ASSIGNMENT_TEMPLATES | CONCIERGE_REMINDERS

StillTrue = Callable[[Delivery], Awaitable[str | None]]


def an_assignment_held_back_is_sent_only_while_it_holds(knowledge: Knowledge) -> StillTrue:
    """Return the check the sender runs first: the reason to withdraw a delivery, or None to send it."""

    async def check(delivery: Delivery) -> str | None:
        if delivery.template not in CHECKED or delivery.case_id is None:
            return None
        if delivery.not_before - delivery.created_at < HELD:
            return (
                None  # sent at once: the case may not have recorded its concierge here yet, nothing to doubt
            )
        staff_id = _announced(delivery)
        if staff_id is None:
            return None
        facts = await knowledge.case(delivery.case_id)
        if facts is None or not _taken_from(facts, staff_id):
            return None
        now = f"now {facts.concierge_name}" if facts.concierge_name else "it waits for a concierge"
        return (
            f"指派在发送前已变更，未发送 / the assignment changed before this message was sent ({now}): "
            f"case {delivery.case_id}"
        )

    return check


def _announced(delivery: Delivery) -> str | None:
    # Whose assignment the message announces: recorded with it (a message held from before it was, to a
    # concierge, names them as its recipient; to an enterprise, it cannot be told and is sent).
    if delivery.concierge_id is not None:
        return delivery.concierge_id
    kind, _, staff_id = delivery.recipient.split(":", 2)
    return staff_id if kind == "staff" else None


def _taken_from(facts: CaseFacts, staff_id: str) -> bool:
    # Only what the case recorded since says so: someone else serves it, or this person was withdrawn. A case
    # naming nobody yet (its own record of the assignment not folded here) is no reason to withhold a message.
    if facts.concierge_id is not None:
        return facts.concierge_id != staff_id
    return facts.withdrawn_from == staff_id
