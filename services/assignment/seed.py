"""Demo people for `make run`: per demo bureau a director, a section chief and a clerk, with accounts.

They join the roster the way any person does (StaffMemberAdded on the bureau's board stream, through the
board aggregate and its expected version), and get accounts; their sign-in details go to
var/dev-credentials.json beside the integration keys. A restart keeps people and passwords that still work."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.assignment.application.boards import Boards, Context
from shared.auth.accounts import Accounts, RosterPerson
from shared.auth.actors import service_actor
from shared.auth.keys import Role
from shared.auth.passwords import Passwords
from shared.auth.tokens import TokenStore
from shared.contracts.assignment import Post
from shared.eventstore.mongo import MongoRecorder, ensure_indexes
from shared.workdays.calendar import SHANGHAI

# username -> (name, post, section, account role); the clerk is also the bureau admin (roster, accounts).
DEMO_PEOPLE: dict[str, dict[str, tuple[str, Post, str, Role]]] = {
    "finance": {
        "director": ("周建国", Post.DIRECTOR, "局办公室", Role.STAFF),
        "chief": ("李国库", Post.SECTION_CHIEF, "国库科", Role.STAFF),
        "clerk": ("赵经办", Post.CLERK, "国库科", Role.ADMIN),
    },
    "innovation": {
        "director": ("孙创新", Post.DIRECTOR, "局办公室", Role.STAFF),
        "chief": ("钱科技", Post.SECTION_CHIEF, "科技科", Role.STAFF),
        "clerk": ("吴经办", Post.CLERK, "科技科", Role.ADMIN),
    },
}


async def seed_people(client: Any, db: Any, known: dict[str, Any]) -> dict[str, Any]:
    """Put the demo people on their rosters with accounts; return their sign-in details by bureau."""
    await ensure_indexes(db)
    boards = Boards(MongoRecorder(client, db))
    passwords = Passwords()
    accounts = Accounts(db, passwords, TokenStore(db))
    result: dict[str, Any] = {}
    for bureau, people in DEMO_PEOPLE.items():
        result[bureau] = {}
        for username, (name, post, section, role) in people.items():
            staff_id = f"{bureau}-{username}"
            await _on_roster(boards, bureau, staff_id, name, post, section)
            person = RosterPerson(bureau, staff_id, name, post.value, section)
            was = known.get(bureau, {}).get(username, {})
            result[bureau][username] = await _account(accounts, passwords, person, username, role, was)
    return result


async def _on_roster(boards: Boards, bureau: str, staff_id: str, name: str, post: Post, section: str) -> None:
    context = Context(
        bureau=bureau,
        actor=service_actor("devstack:seed_people", bureau),
        command_id=f"seed:people:{bureau}:{staff_id}",  # recorded once, however often make run starts
        correlation_id=uuid.uuid4(),
    )
    now = datetime.now(SHANGHAI)
    await boards.decide(
        context, lambda b: [] if staff_id in b.staff else b.add_staff(staff_id, name, post, section, now)
    )


async def _account(
    accounts: Accounts,
    passwords: Passwords,
    person: RosterPerson,
    username: str,
    role: Role,
    was: dict[str, Any],
) -> dict[str, Any]:
    """The person's account; a password or TOTP secret written earlier is kept while it still works."""
    account = await accounts.get(person.bureau, person.staff_id)
    if account is None:
        created = await accounts.create(person, username, None, role, "make run")
        details = {"password": created.password, "totp_secret": created.totp_secret}
    else:
        details = {"password": was.get("password"), "totp_secret": account.get("totp_secret")}
        if not details["password"] or not passwords.verify(account["password_hash"], details["password"]):
            details["password"] = (
                await accounts.reset_password(person.bureau, person.staff_id, None)
            ).password
        if account.get("disabled"):
            await accounts.enable(person.bureau, person.staff_id, person)
    return {
        "username": username,
        "staff_id": person.staff_id,
        "name": person.name,
        "post": person.post,
        "role": role.value,
        **details,
    }
