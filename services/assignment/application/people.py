"""People's accounts follow the roster: a post or section change reaches their tokens, a departure ends them."""

from __future__ import annotations

from services.assignment.application.boards import Boards
from shared.auth.accounts import Accounts, RosterPerson
from shared.contracts.envelope import EventEnvelope

ROSTER_CHANGES = frozenset({"StaffMemberChanged", "StaffDeparted"})


async def follow_roster(boards: Boards, accounts: Accounts, bureau: str, staff_id: str) -> bool:
    """Copy the person's current roster entry onto their account (if any); True when it changed."""
    board = await boards.current(bureau)
    staff = board.staff.get(staff_id)
    if staff is None:
        return False
    person = RosterPerson(bureau, staff_id, staff.name, staff.post.value, staff.section, staff.departed)
    return await accounts.follow_roster(person)


async def keep_accounts_in_step_when_roster_changes(
    envelope: EventEnvelope, *, boards: Boards, accounts: Accounts
) -> bool | None:
    """Policy: after StaffMemberChanged or StaffDeparted, the account shows the roster as it is now.

    Why from the board and not the event: a redelivered old event must not write an old post back."""
    if envelope.event_type not in ROSTER_CHANGES:
        return None
    return await follow_roster(boards, accounts, envelope.bureau, str(envelope.data["staff_id"]))
