"""`make run`'s demo people on real SecantusDB: on the roster by events, with accounts that sign in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.assignment.application.boards import Boards, board_stream
from services.assignment.seed import seed_people
from shared.auth import totp
from shared.auth.accounts import Accounts
from shared.auth.passwords import Passwords
from shared.auth.sessions import Sessions
from shared.auth.tokens import TokenStore
from shared.eventstore.mongo import MongoRecorder

pytestmark = pytest.mark.integration


async def test_seeding_twice_puts_each_person_on_the_roster_once_and_keeps_working_passwords(
    mongo_db: AsyncDatabase,
) -> None:
    first = await seed_people(mongo_db.client, mongo_db, {})
    again = await seed_people(mongo_db.client, mongo_db, first)

    recorder = MongoRecorder(mongo_db.client, mongo_db)
    events = await recorder.read_stream(board_stream("finance"))
    assert [e.event_type for e in events] == ["StaffMemberAdded"] * 3
    assert {e.actor.kind for e in events} == {"service"}
    board = await Boards(recorder).current("finance")
    assert {s.post.value for s in board.staff.values()} == {"director", "section_chief", "clerk"}
    assert again == first  # the same passwords and TOTP secrets after a restart

    tokens, passwords = TokenStore(mongo_db), Passwords()
    sessions = Sessions(Accounts(mongo_db, passwords, tokens), tokens, passwords)
    director = first["finance"]["director"]
    code = totp.code_at(director["totp_secret"], datetime.now(UTC))
    session = await sessions.sign_in("finance", "director", director["password"], code)
    principal = await tokens.authenticate(session.access.token)
    assert principal is not None and (principal.name, principal.post) == (director["name"], "director")
    clerk = first["innovation"]["clerk"]
    assert clerk["totp_secret"] is None and clerk["role"] == "admin"
    assert (await sessions.sign_in("innovation", "clerk", clerk["password"], None)).account["role"] == "admin"
