"""Revocations that land while tokens are being issued (in memory, interleavings set by hand).

Each test holds an issuer at a chosen point (inside the password check, or just after a token is inserted),
lets a departure, disable, post change, sign-out or reused refresh token run to its end, then lets the issuer
go on: whatever the order, no token may outlive the revocation."""

from __future__ import annotations

import pytest

from shared.auth.accounts import AccountRefused, RosterPerson
from shared.auth.keys import Role
from shared.auth.personal import TokenRefused, create_personal
from shared.auth.sessions import SignInRefused
from tests.unit.session_races_support import (
    CLERK,
    People,
    refused,
    refused_anyway,
    with_clerk_and_director,
)
from tests.unit.test_auth_support import PASSWORD


@pytest.fixture
async def people() -> People:
    return await with_clerk_and_director()


# 1. A departure, disable or demotion while the person signs in.


async def test_a_departure_during_the_password_check_leaves_no_working_token(people: People) -> None:
    departed = RosterPerson("finance", "s-clerk", "赵经办", "clerk", "国库科", departed=True)

    task = await people.held(
        people.passwords.gate, people.sign_in("zhao"), people.accounts.follow_roster(departed)
    )

    assert refused(task).status == 401
    assert people.live("finance:s-clerk") == []


async def test_a_disable_after_the_tokens_are_inserted_still_takes_them(people: People) -> None:
    task = await people.held(
        people.tokens.gate, people.sign_in("zhao"), people.accounts.disable("finance", "s-clerk", "调查中")
    )

    assert refused(task).status == 401
    assert people.live("finance:s-clerk") == []


async def test_a_demotion_during_a_directors_sign_in_gives_no_token_with_the_old_post(people: People) -> None:
    demoted = RosterPerson("finance", "s-director", "周局长", "clerk", "局办")

    task = await people.held(
        people.passwords.gate, people.sign_in("zhou"), people.accounts.follow_roster(demoted)
    )

    assert "changed" in str(refused(task))
    assert [d["post"] for d in people.live("finance:s-director")] == []


async def test_a_post_change_that_lands_after_the_fence_reaches_the_new_tokens(people: People) -> None:
    session = await people.sign_in("zhao")  # the issuer finished first: the change's update reaches its pair
    await people.accounts.follow_roster(
        RosterPerson("finance", "s-clerk", "赵经办", "section_chief", "预算科")
    )

    principal = await people.tokens.authenticate(session.access.token)
    assert principal is not None and principal.post == "section_chief"


async def test_a_disable_while_a_personal_token_is_made_takes_it_too(people: People) -> None:
    session = await people.sign_in("zhao")

    task = await people.held(
        people.tokens.gate, people.personal(session), people.accounts.disable("finance", "s-clerk", "调查中")
    )

    assert refused(task).status == 401
    assert people.live("finance:s-clerk") == []


async def test_a_sign_out_while_a_personal_token_is_made_takes_it_too(people: People) -> None:
    session = await people.sign_in("zhao")

    task = await people.held(
        people.tokens.gate, people.personal(session), people.sessions.sign_out(session.access.token)
    )

    assert refused(task).status == 401 and "session ended" in str(refused(task))
    assert people.live("finance:s-clerk") == []


async def test_enable_refuses_when_a_departure_moved_the_stamp_since_the_account_was_read(
    people: People,
) -> None:
    await people.accounts.disable("finance", "s-clerk", "调查中")
    seen = await people.accounts.get("finance", "s-clerk")  # the enable's read, before the roster's
    await people.accounts.follow_roster(  # the departure the roster read missed lands now
        RosterPerson("finance", "s-clerk", "赵经办", "clerk", "国库科", departed=True)
    )

    with pytest.raises(AccountRefused) as changed:
        await people.accounts.enable("finance", "s-clerk", CLERK, seen)

    assert changed.value.status == 409 and "账号刚被变更" in str(changed.value)
    assert "read it again" in str(changed.value)
    after = await people.accounts.get("finance", "s-clerk") or {}
    assert (after["disabled"], after["disabled_reason"]) == (True, "离开本局 (left the bureau)")


async def test_enable_with_an_unmoved_stamp_enables(people: People) -> None:
    await people.accounts.disable("finance", "s-clerk", "调查中")
    seen = await people.accounts.get("finance", "s-clerk")

    enabled = await people.accounts.enable("finance", "s-clerk", CLERK, seen)

    assert enabled["disabled"] is False
    assert (await people.accounts.get("finance", "s-clerk") or {})["disabled"] is False
    assert (await people.sign_in("zhao")).access.token.startswith("czs_")


async def test_a_departure_during_the_creates_password_hash_leaves_no_enabled_account(people: People) -> None:
    cashier = RosterPerson("finance", "s-cashier", "钱出纳", "clerk", "国库科")
    roster = {"now": cashier}

    async def read_roster() -> RosterPerson:
        return roster["now"]

    async def departure() -> None:  # roster written, then its follow_roster: no account exists yet
        roster["now"] = RosterPerson("finance", "s-cashier", "钱出纳", "clerk", "国库科", departed=True)
        assert await people.accounts.follow_roster(roster["now"]) is False

    task = await people.held(
        people.passwords.hash_gate,
        people.accounts.create(cashier, "qian", PASSWORD, Role.STAFF, "test", roster=read_roster),
        departure(),
    )

    error = task.exception()
    assert isinstance(error, AccountRefused) and error.status == 409, task
    assert "已离开本局 / has left the bureau" in str(error)
    account = await people.accounts.get("finance", "s-cashier") or {}
    assert (account["disabled"], account["disabled_reason"]) == (True, "离开本局 (left the bureau)")
    with pytest.raises(SignInRefused):
        await people.sign_in("qian")


async def test_a_promotion_during_the_creates_password_hash_gives_the_new_post_and_a_totp_secret(
    people: People,
) -> None:
    cashier = RosterPerson("finance", "s-cashier", "钱出纳", "clerk", "国库科")
    promoted = RosterPerson("finance", "s-cashier", "钱出纳", "director", "局办")

    async def read_roster() -> RosterPerson:
        return promoted

    task = await people.held(
        people.passwords.hash_gate,
        people.accounts.create(cashier, "qian", PASSWORD, Role.STAFF, "test", roster=read_roster),
        people.accounts.follow_roster(promoted),  # finds no account yet
    )

    created = task.result()
    assert (created.account["post"], created.account["section"]) == ("director", "局办")
    assert created.totp_secret and created.totp_uri and created.password is None
    account = await people.accounts.get("finance", "s-cashier") or {}
    assert (account["post"], account["totp_secret"], account["disabled"]) == (
        "director",
        created.totp_secret,
        False,
    )


# 2. Leadership rights only for sessions opened with a TOTP code.


async def test_a_clerk_promoted_to_director_loses_the_session_and_personal_tokens_without_totp(
    people: People,
) -> None:
    session = await people.sign_in("zhao")
    personal = await people.personal(session)

    await people.accounts.follow_roster(RosterPerson("finance", "s-clerk", "赵经办", "director", "局办"))

    assert await people.tokens.authenticate(personal.token) is None
    assert await people.tokens.authenticate(session.access.token) is None
    assert await people.tokens.personal("finance:s-clerk") == []  # revoked, not only refused
    with pytest.raises(SignInRefused) as refresh:
        await people.sessions.refresh(session.refresh.token)
    assert refresh.value.status == 401  # revoked with the session


async def test_a_token_carrying_a_leadership_post_without_a_second_factor_never_authenticates(
    people: People,
) -> None:
    session = await people.sign_in("zhao")
    # Even if a promotion's revocation missed it, the post the token carries decides.
    for doc in people.db["auth_tokens"].docs.values():
        doc["post"] = "director"

    assert await people.tokens.authenticate(session.access.token) is None


async def test_refresh_and_personal_tokens_refuse_a_leadership_post_reached_without_a_code(
    people: People,
) -> None:
    session = await people.sign_in("zhao")
    # The promotion lands between the refresh's token read and its account read: the account decides.
    await people.db["accounts"].update_one({"_id": "finance:s-clerk"}, {"$set": {"post": "director"}})

    with pytest.raises(TokenRefused) as personal:
        await create_personal(people.accounts, people.tokens, session.access.token, "脚本", None)
    with pytest.raises(SignInRefused) as refreshed:
        await people.sessions.refresh(session.refresh.token)

    assert personal.value.status == refreshed.value.status == 401
    assert "TOTP" in str(refreshed.value)


async def test_a_person_signed_in_with_totp_keeps_the_session_through_a_promotion(people: People) -> None:
    enrolled = await people.accounts.enrol_totp("finance", "s-clerk")
    people.secrets["zhao"] = enrolled.totp_secret or ""
    session = await people.sign_in("zhao")
    personal = await people.personal(session)

    await people.accounts.follow_roster(RosterPerson("finance", "s-clerk", "赵经办", "director", "局办"))

    principal = await people.tokens.authenticate(personal.token)
    assert principal is not None and principal.post == "director"
    assert (await people.sessions.refresh(session.refresh.token)).account["post"] == "director"


# 3. Reused refresh tokens and sign-out against a concurrent refresh.


async def test_a_reused_refresh_token_during_the_winners_refresh_ends_the_whole_session(
    people: People,
) -> None:
    first = await people.sign_in("zhao")

    winner = await people.held(
        people.tokens.gate,
        people.sessions.refresh(first.refresh.token),
        refused_anyway(people.sessions.refresh(first.refresh.token)),
    )

    assert refused(winner).status == 401
    assert people.live("finance:s-clerk") == []


async def test_a_sign_out_during_a_refresh_leaves_no_token_of_the_session(people: People) -> None:
    first = await people.sign_in("zhao")

    task = await people.held(
        people.tokens.gate,
        people.sessions.refresh(first.refresh.token),
        people.sessions.sign_out(first.access.token),
    )

    assert "session ended" in str(refused(task))
    assert people.live("finance:s-clerk") == []


async def test_a_sign_out_after_the_refresh_finished_revokes_the_new_pair(people: People) -> None:
    first = await people.sign_in("zhao")
    second = await people.sessions.refresh(first.refresh.token)

    assert await people.sessions.sign_out(second.access.token)

    assert people.live("finance:s-clerk") == []
    with pytest.raises(SignInRefused):
        await people.sessions.refresh(second.refresh.token)


async def test_sign_out_ends_only_its_own_session(people: People) -> None:
    phone, desk = await people.sign_in("zhao"), await people.sign_in("zhao")

    await people.sessions.sign_out(phone.access.token)

    assert await people.tokens.authenticate(desk.access.token) is not None
    assert (await people.sessions.refresh(desk.refresh.token)).session_id == desk.session_id
