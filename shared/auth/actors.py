"""Who an event names as its actor, from the caller that caused it."""

from __future__ import annotations

from shared.auth.keys import Principal
from shared.contracts.envelope import Actor


def actor_of(principal: Principal) -> Actor:
    """Return the actor an event records for this caller: the person, or the integration key."""
    if principal.staff_id is not None:
        return Actor(
            kind="person",
            id=principal.staff_id,
            bureau=principal.bureau,
            staff_id=principal.staff_id,
            name=principal.name,
            post=principal.post,
            key_id=principal.key_id,
        )
    return Actor(kind="integration", id=principal.key_id, bureau=principal.bureau, key_id=principal.key_id)


def service_actor(policy: str, bureau: str | None) -> Actor:
    """Return the actor of an event a service policy caused (e.g. assignment:leave_check)."""
    return Actor(kind="service", id=policy, bureau=bureau)
