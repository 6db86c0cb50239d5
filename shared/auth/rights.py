"""The rights table, in one place: what each post (for people) and each role (for keys) may do.

A person's rights follow their post as the roster has it now, plus what their account role adds (a bureau
admin manages the roster and accounts; a viewer account only reads, whatever the post). A bureau's API key
keeps the rights of its role, so integrations work as before. Some rights hold only for one resource (the
concierge's own cases, a section chief's own section); `require` checks that the caller can hold the right at
all, and the route checks the resource with `may_serve_case` / `may_work_task`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, HTTPException, status

from shared.auth.http import current_principal
from shared.auth.keys import ZONE, Principal, Role
from shared.contracts.assignment import FALLBACK_POSTS, LEADERSHIP_POSTS, MANAGEMENT_POSTS, Post


class Right(StrEnum):
    """A named right: the value says what it lets one do."""

    READ = "read the bureau's cases, roster, statistics and notices"
    OPEN_CASES = "open cases"
    RECORD_MONEY = "record disbursements and arrears (open them, report stages, payments and repayments)"
    TAKE_CASE_STEPS = "take the six steps of a case"
    WORK_SECTION_TASKS = "open, chase and close coordination tasks"
    APPROVE_FALLBACKS = "approve fallback concierges"
    REASSIGN = "reassign enterprises"
    PUBLISH_NOTICES = "publish notices"
    CHANGE_SETTINGS = "change the bureau's settings"
    APPROVE_DISBURSEMENTS = "approve disbursements"
    PUBLISH_CALENDAR = "publish the working-day calendar"
    MANAGE_ROSTER = "manage the roster"
    MANAGE_ACCOUNTS = "manage accounts"
    MANAGE_INTEGRATIONS = "manage integration signing keys"


HOLDERS: dict[Right, str] = {
    Right.READ: "everyone of the bureau",
    Right.OPEN_CASES: "the bureau's staff and integrations",
    Right.RECORD_MONEY: "the bureau's staff and integrations",
    Right.TAKE_CASE_STEPS: "the case's concierge",
    Right.WORK_SECTION_TASKS: "the case's concierge, or the chief of the task's section",
    Right.APPROVE_FALLBACKS: "bureau leadership (局长, 党支部书记)",
    Right.REASSIGN: "bureau leadership (局长, 党支部书记)",
    Right.PUBLISH_NOTICES: "bureau leadership (局长, 党支部书记)",
    Right.CHANGE_SETTINGS: "bureau leadership (局长, 党支部书记)",
    Right.APPROVE_DISBURSEMENTS: "bureau leadership (局长, 党支部书记)",
    Right.PUBLISH_CALENDAR: "the zone operator (高新区管委会)",
    Right.MANAGE_ROSTER: "the bureau admin",
    Right.MANAGE_ACCOUNTS: "the bureau admin",
    Right.MANAGE_INTEGRATIONS: "the bureau admin",
}

LEADERSHIP = frozenset(
    {
        Right.APPROVE_FALLBACKS,
        Right.REASSIGN,
        Right.PUBLISH_NOTICES,
        Right.CHANGE_SETTINGS,
        Right.APPROVE_DISBURSEMENTS,
    }
)
BUREAU_ADMIN = frozenset({Right.MANAGE_ROSTER, Right.MANAGE_ACCOUNTS, Right.MANAGE_INTEGRATIONS})
EVERY_PERSON = frozenset({Right.READ, Right.OPEN_CASES, Right.RECORD_MONEY})
SERVING_POSTS = MANAGEMENT_POSTS | FALLBACK_POSTS  # may be a case's concierge (fallbacks with approval)


def post_rights(post: Post) -> frozenset[Right]:
    """The rights a post gives a person (before the account role; resource checks still apply)."""
    rights = set(EVERY_PERSON)
    if post in SERVING_POSTS:
        rights.add(Right.TAKE_CASE_STEPS)
        rights.add(Right.WORK_SECTION_TASKS)  # as the case's concierge (step 2)
    if post is Post.SECTION_CHIEF:
        rights.add(Right.WORK_SECTION_TASKS)
    if post in LEADERSHIP_POSTS:
        rights |= LEADERSHIP
    return frozenset(rights)


KEY_RIGHTS: dict[Role, frozenset[Right]] = {
    # An admin key acts for the whole bureau (as before people signed in): every bureau right.
    Role.ADMIN: frozenset(Right) - {Right.PUBLISH_CALENDAR},
    Role.STAFF: frozenset(
        {Right.READ, Right.OPEN_CASES, Right.RECORD_MONEY, Right.TAKE_CASE_STEPS, Right.WORK_SECTION_TASKS}
    ),
    Role.INTEGRATION: frozenset(
        {Right.READ, Right.OPEN_CASES, Right.RECORD_MONEY, Right.TAKE_CASE_STEPS, Right.WORK_SECTION_TASKS}
    ),
    Role.VIEWER: frozenset({Right.READ}),
    Role.OPERATOR: frozenset({Right.READ, Right.PUBLISH_CALENDAR}),
}


def rights_of(principal: Principal) -> frozenset[Right]:
    """Every right the caller can hold: a person's by post and account role, a key's by its role."""
    if principal.staff_id is None:
        rights = KEY_RIGHTS[principal.role]
        if Right.PUBLISH_CALENDAR in rights and principal.bureau != ZONE:
            rights = rights - {Right.PUBLISH_CALENDAR}  # the calendar is zone-wide: only the zone's operators
        return rights
    if principal.role is Role.VIEWER:
        return frozenset({Right.READ})
    try:
        rights = post_rights(Post(principal.post or ""))
    except ValueError:
        rights = EVERY_PERSON  # a post this code does not know: no more than a clerk
    return rights | BUREAU_ADMIN if principal.role is Role.ADMIN else rights


def who(principal: Principal) -> str:
    """How a refusal names the caller: the post of a person, the role of a key."""
    if principal.staff_id is not None:
        return f"post {principal.post}" if principal.role is not Role.VIEWER else "a viewer account"
    article = "an" if principal.role.value[0] in "aeiou" else "a"
    return f"{article} {principal.role.value} key"


def refusal(principal: Principal, right: Right) -> str | None:
    """The reason the caller may not use the right at all (403), or None."""
    rights = rights_of(principal)
    if right in rights:
        return None
    reader = "; it may only read" if rights == {Right.READ} else ""
    return f"无此权限 / {who(principal)} may not {right.value}: only {HOLDERS[right]}{reader}"


def may_serve_case(principal: Principal, concierge: str | None, on_leave: bool) -> str | None:
    """The reason a person may not take a step of this case (None: they may); keys are not checked here."""
    if principal.staff_id is None:
        return refusal(principal, Right.TAKE_CASE_STEPS)
    if principal.staff_id != concierge:
        return f"只有本案专责店小二可以办理 / {who(principal)} may not take the steps of this case: only the case's concierge"
    if on_leave:
        return "休假期间不能办理案件 / on leave: the concierge's rights return when the leave ends"
    return refusal(principal, Right.TAKE_CASE_STEPS)


def may_work_task(principal: Principal, section: str, concierge: str | None, on_leave: bool) -> str | None:
    """The reason a person may not open, chase or close a task of this section on this case, or None."""
    if principal.staff_id is None:
        return refusal(principal, Right.WORK_SECTION_TASKS)
    if principal.post == Post.SECTION_CHIEF.value and principal.section == section:
        return None  # the chief of the task's section, on any case of the bureau
    if principal.staff_id == concierge:
        return may_serve_case(principal, concierge, on_leave)
    return (
        f"只有本案专责店小二或{section}科室长可以办理 / {who(principal)} may not work this task: only the "
        "case's concierge or the chief of the task's section"
    )


def require(right: Right) -> Callable[[Principal], Awaitable[Principal]]:
    """A FastAPI dependency: the authenticated caller, or 403 with the reason when they lack the right."""

    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        reason = refusal(principal, right)
        if reason is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, reason)
        return principal

    return dependency


Reader = Annotated[Principal, Depends(require(Right.READ))]
CaseOpener = Annotated[Principal, Depends(require(Right.OPEN_CASES))]
CaseWorker = Annotated[Principal, Depends(require(Right.TAKE_CASE_STEPS))]
TaskWorker = Annotated[Principal, Depends(require(Right.WORK_SECTION_TASKS))]
FallbackApprover = Annotated[Principal, Depends(require(Right.APPROVE_FALLBACKS))]
Reassigner = Annotated[Principal, Depends(require(Right.REASSIGN))]
NoticePublisher = Annotated[Principal, Depends(require(Right.PUBLISH_NOTICES))]
SettingsChanger = Annotated[Principal, Depends(require(Right.CHANGE_SETTINGS))]
MoneyRecorder = Annotated[Principal, Depends(require(Right.RECORD_MONEY))]
CalendarPublisher = Annotated[Principal, Depends(require(Right.PUBLISH_CALENDAR))]
RosterManager = Annotated[Principal, Depends(require(Right.MANAGE_ROSTER))]
IntegrationManager = Annotated[Principal, Depends(require(Right.MANAGE_INTEGRATIONS))]
AccountManager = Annotated[Principal, Depends(require(Right.MANAGE_ACCOUNTS))]
