"""The rights table row by row: every post (people) and every role (keys) against every right."""

from __future__ import annotations

import pytest

from shared.auth.keys import ZONE, Principal, Role
from shared.auth.rights import Right, may_serve_case, may_work_task, refusal, rights_of
from shared.contracts.assignment import Post

R = Right
# Written out by hand from the README's table, not computed: the test fails if the code drifts from it.
# Columns: READ OPEN_CASES RECORD_MONEY TAKE_CASE_STEPS WORK_SECTION_TASKS APPROVE_FALLBACKS REASSIGN
#          PUBLISH_NOTICES CHANGE_SETTINGS APPROVE_DISBURSEMENTS PUBLISH_CALENDAR MANAGE_ROSTER MANAGE_ACCOUNTS
#          MANAGE_INTEGRATIONS
COLUMNS = list(Right)
POSTS: dict[Post, str] = {
    Post.DIRECTOR: "11111111110000",
    Post.PARTY_SECRETARY: "11111111110000",
    Post.DEPUTY_DIRECTOR: "11111000000000",
    Post.DEPUTY_SECRETARY: "11111000000000",
    Post.SECTION_CHIEF: "11111000000000",
    Post.EXPERIENCED_STAFF: "11111000000000",
    Post.SERVICE_MODEL: "11111000000000",
    Post.CLERK: "11100000000000",
}
KEYS: dict[Role, str] = {
    Role.ADMIN: "11111111110111",
    Role.STAFF: "11111000000000",
    Role.INTEGRATION: "11111000000000",
    Role.VIEWER: "10000000000000",
    Role.OPERATOR: "10000000001000",  # a zone operator key (bureau "zone")
}
ROWS = [(post, right, flags[i] == "1") for post, flags in POSTS.items() for i, right in enumerate(COLUMNS)]
KEY_ROWS = [(role, right, flags[i] == "1") for role, flags in KEYS.items() for i, right in enumerate(COLUMNS)]


def person(
    post: Post | str, role: Role = Role.STAFF, staff_id: str = "s1", section: str = "国库科"
) -> Principal:
    return Principal(
        bureau="finance",
        role=role,
        key_id="t1",
        staff_id=staff_id,
        name="某人",
        post=str(post),
        section=section,
    )


def test_the_table_has_every_post_role_and_right() -> None:
    assert set(POSTS) == set(Post) and set(KEYS) == set(Role) and len(COLUMNS) == 14


@pytest.mark.parametrize(("post", "right", "allowed"), ROWS, ids=[f"{p.value}-{r.name}" for p, r, _ in ROWS])
def test_a_persons_rights_follow_the_post(post: Post, right: Right, allowed: bool) -> None:
    assert (right in rights_of(person(post))) is allowed
    assert (refusal(person(post), right) is None) is allowed


@pytest.mark.parametrize(
    ("role", "right", "allowed"), KEY_ROWS, ids=[f"{k.value}-{r.name}" for k, r, _ in KEY_ROWS]
)
def test_a_bureau_keys_rights_follow_its_role(role: Role, right: Right, allowed: bool) -> None:
    bureau = ZONE if role is Role.OPERATOR else "finance"
    assert (right in rights_of(Principal(bureau=bureau, role=role, key_id="k"))) is allowed


@pytest.mark.parametrize("post", list(Post))
def test_a_bureau_admin_account_adds_roster_and_accounts_to_any_post(post: Post) -> None:
    rights = rights_of(person(post, Role.ADMIN))
    assert rights == rights_of(person(post)) | {R.MANAGE_ROSTER, R.MANAGE_ACCOUNTS, R.MANAGE_INTEGRATIONS}


@pytest.mark.parametrize("post", list(Post))
def test_a_viewer_account_only_reads_whatever_the_post(post: Post) -> None:
    assert rights_of(person(post, Role.VIEWER)) == {R.READ}
    assert "may only read" in (refusal(person(post, Role.VIEWER), R.OPEN_CASES) or "")


def test_an_operator_role_outside_the_zone_may_not_publish_the_calendar() -> None:
    assert R.PUBLISH_CALENDAR not in rights_of(Principal(bureau="finance", role=Role.OPERATOR, key_id="k"))


def test_a_refusal_names_the_post_and_who_holds_the_right() -> None:
    reason = refusal(person(Post.CLERK), R.TAKE_CASE_STEPS)
    assert (
        reason is not None
        and "post clerk may not take the six steps of a case: only the case's concierge" in reason
    )


def test_only_the_cases_concierge_takes_its_steps_and_not_while_away() -> None:
    chief = person(Post.SECTION_CHIEF, staff_id="s1")
    assert may_serve_case(chief, "s1", on_leave=False) is None
    assert "only the case's concierge" in (may_serve_case(chief, "s2", on_leave=False) or "")
    assert "on leave" in (may_serve_case(chief, "s1", on_leave=True) or "")
    assert "only the case's concierge" in (may_serve_case(person(Post.DIRECTOR), None, on_leave=False) or "")


def test_a_bureau_admin_clerk_records_money_but_may_not_approve_it() -> None:
    clerk = person(Post.CLERK, Role.ADMIN)
    assert refusal(clerk, R.RECORD_MONEY) is None
    reason = refusal(clerk, R.APPROVE_DISBURSEMENTS) or ""
    assert "post clerk may not approve disbursements: only bureau leadership (局长, 党支部书记)" in reason


def test_a_clerk_named_concierge_by_mistake_still_may_not_take_steps() -> None:
    assert may_serve_case(person(Post.CLERK, staff_id="s1"), "s1", on_leave=False) is not None


def test_a_section_chief_works_tasks_of_their_own_section_only() -> None:
    chief = person(Post.SECTION_CHIEF, staff_id="s9", section="预算科")
    assert may_work_task(chief, "预算科", concierge="s1", on_leave=False) is None
    assert may_work_task(chief, "国库科", concierge="s1", on_leave=False) is not None
    assert may_work_task(person(Post.CLERK, section="预算科"), "预算科", "s1", on_leave=False) is not None


def test_keys_with_a_writing_role_take_steps_on_any_case_of_their_bureau() -> None:
    key = Principal(bureau="finance", role=Role.INTEGRATION, key_id="k")
    assert may_serve_case(key, "s1", on_leave=False) is None
    assert may_work_task(key, "国库科", "s1", on_leave=False) is None
    assert may_serve_case(Principal(bureau="finance", role=Role.VIEWER, key_id="k"), "s1", False) is not None
