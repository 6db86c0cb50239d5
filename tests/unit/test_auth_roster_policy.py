"""Accounts follow the roster even when the change came from elsewhere (another instance, a replay)."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.assignment.application.boards import Context, board_stream
from services.assignment.application.people import keep_accounts_in_step_when_roster_changes
from shared.auth.actors import service_actor
from shared.contracts.assignment import Post
from shared.workdays.calendar import SHANGHAI
from tests.unit.test_auth_support import bearer, world


async def test_given_a_post_change_recorded_by_another_instance_when_the_policy_sees_it_then_the_token_follows() -> (
    None
):
    w = world()
    clerk = await w.staff("赵经办", "clerk")
    await w.account(clerk, "zhao")
    token = await w.token("zhao")
    context = Context("finance", service_actor("elsewhere", "finance"), uuid.uuid4().hex, uuid.uuid4())
    now = datetime.now(SHANGHAI)
    boards = w.app.state.boards
    await boards.decide(context, lambda b: b.change_staff(clerk, Post.SECTION_CHIEF, "预算科", now))
    changed = (await w.recorder.read_stream(board_stream("finance")))[-1]

    wrote = await keep_accounts_in_step_when_roster_changes(
        changed, boards=boards, accounts=w.app.state.accounts
    )
    again = await keep_accounts_in_step_when_roster_changes(
        changed, boards=boards, accounts=w.app.state.accounts
    )

    me = (await w.http.get("/api/v1/auth/me", headers=bearer(token))).json()
    assert wrote is True and again is False  # a redelivery changes nothing
    assert (me["post"], me["section"]) == ("section_chief", "预算科")
    await w.http.aclose()


async def test_given_a_replayed_old_change_then_the_account_keeps_the_roster_as_it_is_now() -> None:
    w = world()
    clerk = await w.staff("赵经办", "clerk")
    await w.account(clerk, "zhao")
    token = await w.token("zhao")
    await w.http.patch(
        f"/api/v1/staff/{clerk}",
        json={"post": "section_chief"},
        headers={"Authorization": "Bearer finance-admin"},
    )
    first = (await w.recorder.read_stream(board_stream("finance")))[-1]
    await w.http.patch(
        f"/api/v1/staff/{clerk}",
        json={"post": "deputy_director"},
        headers={"Authorization": "Bearer finance-admin"},
    )

    await keep_accounts_in_step_when_roster_changes(
        first, boards=w.app.state.boards, accounts=w.app.state.accounts
    )

    assert (await w.http.get("/api/v1/auth/me", headers=bearer(token))).json()["post"] == "deputy_director"
    await w.http.aclose()
