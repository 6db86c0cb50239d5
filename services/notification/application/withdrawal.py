"""A ladder's messages that are no longer true are withdrawn before they are sent.

A step's deliveries can wait (quiet hours, a retry's backoff) after the step fired. When the ladder ends (the
money credited or cancelled, arrears repaid, the task closed or cancelled) or a new fact moves the step away
(a new stage report, a moved due date), what it would still send is withdrawn: marked `withdrawn` with the
event that ended it, never sent. Only a ladder step's deliveries are withdrawn, never those an event caused
itself (资金到账). Withdrawing only touches pending deliveries, so a redelivered or replayed ending withdraws
nothing already sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from services.notification.application.context import Notifying
from services.notification.application.policies import day_of
from services.notification.domain.deadlines import Timer
from services.notification.domain.deliveries import ladder_cause
from shared.contracts.envelope import EventEnvelope


def step_cause(deadline_id: str, step: dict[str, Any]) -> str:
    """Return the cause of the deliveries a deadline's step records when it fires."""
    return ladder_cause(deadline_id, step["step"], day_of(step["fire_at"]))


def because_of(envelope: EventEnvelope, what: str) -> str:
    """Return why deliveries were withdrawn: what happened, and the event that said so."""
    return f"{what}: {envelope.event_type} {envelope.event_id} (v{envelope.version})"


async def withdraw_steps(n: Notifying, deadline_id: str, steps: Iterable[dict[str, Any]], reason: str) -> int:
    """Withdraw the unsent deliveries of these steps of a deadline that fired; return how many."""
    # Only a fired step has recorded deliveries, so an ordinary ending (nothing fired yet) costs no command. A
    # round firing a step meanwhile finds the ladder changed (its rev) and withdraws what it told itself
    # (withdraw_stale_round).
    fired = [s for s in steps if s.get("fired_at") is not None]
    causes = list(dict.fromkeys(step_cause(deadline_id, s) for s in fired))
    return await n.deliveries.withdraw(causes, reason, n.clock())


async def end_ladder(
    n: Notifying, deadline_id: str, envelope: EventEnvelope, outcome: str
) -> dict[str, Any] | None:
    """Close a deadline as of an event and withdraw what its steps would still send; return it as it was
    before closing (None when unknown, or closed by this event before)."""
    before = await n.deadlines.close(deadline_id, envelope.version, outcome)
    doc = before if before is not None else await n.deadlines.get(deadline_id)
    # Redelivered after a crash between the closing and the withdrawal, the ladder is already closed: withdraw
    # then too. A ladder open again since (a newer event planned it) keeps its messages.
    if doc is not None and (before is not None or not doc.get("open", True)):
        await withdraw_steps(
            n, deadline_id, doc.get("steps", []), because_of(envelope, f"ladder ended ({outcome})")
        )
    return before


def moved_away(old_steps: Iterable[dict[str, Any]], timers: Iterable[Timer]) -> list[dict[str, Any]]:
    """Return the steps of a ladder that its new plan no longer has on the same day (so they are not true)."""
    kept = {(t.step.value, day_of(t.fire_at)) for t in timers}
    return [s for s in old_steps if (s["step"], day_of(s["fire_at"])) not in kept]


async def withdraw_moved_away(
    n: Notifying, doc: dict[str, Any] | None, timers: list[Timer], envelope: EventEnvelope, what: str
) -> int:
    """Withdraw the unsent deliveries of a deadline's steps that a new plan moved away; return how many."""
    if doc is None:
        return 0
    return await withdraw_steps(
        n, doc["_id"], moved_away(doc.get("steps", []), timers), because_of(envelope, what)
    )


async def withdraw_stale_round(
    n: Notifying, doc: dict[str, Any], stale: list[dict[str, Any]], now: datetime
) -> int:
    """Withdraw what a firing round told for steps its ladder ended or moved while the round ran."""
    if not stale:
        return 0
    current = await n.deadlines.get(doc["_id"]) or {}
    what = f"ladder ended ({current['outcome']})" if not current.get("open", True) else "step moved away"
    reason = f"{what} while the step fired at {now.isoformat()}"
    return await withdraw_steps(n, doc["_id"], stale, reason)
