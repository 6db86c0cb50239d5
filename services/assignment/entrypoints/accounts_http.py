"""HTTP entry points of accounts: a bureau admin gives roster people accounts, disables and resets them.

No Idempotency-Key here: answers carry a generated password or TOTP secret shown once, never kept."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status

from services.assignment.entrypoints import auth_models as a
from shared.auth.accounts import AccountRefused, Accounts, NewAccount, RosterPerson
from shared.auth.keys import Principal, Role
from shared.auth.passwords import PasswordRefused
from shared.auth.rights import AccountManager

router = APIRouter(prefix="/api/v1/accounts", tags=["auth"])
REFUSED: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such person on the bureau's roster, or no account"},
    409: {"description": "The person left, already has an account, or the username is taken"},
}


def _accounts(request: Request) -> Accounts:
    return request.app.state.accounts  # type: ignore[no-any-return]


async def roster_person(request: Request, bureau: str, staff_id: str) -> RosterPerson:
    """The person as the bureau's roster has them now (404 when not on it)."""
    board = await request.app.state.boards.current(bureau)
    staff = board.staff.get(staff_id)
    if staff is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "本局名册上没有此人 / staff member not found")
    return RosterPerson(bureau, staff_id, staff.name, staff.post.value, staff.section, staff.departed)


def _secrets(new: NewAccount) -> a.AccountSecrets:
    return a.AccountSecrets(
        account=a.account_card(new.account),
        password=new.password,
        totp_secret=new.totp_secret,
        totp_uri=new.totp_uri,
    )


def _refused(exc: AccountRefused | PasswordRefused) -> HTTPException:
    if isinstance(exc, PasswordRefused):
        detail = [{"loc": ["body", "password"], "msg": str(exc), "type": "value_error"}]
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)
    return HTTPException(exc.status, str(exc))


def _by(caller: Principal) -> str:
    return f"{caller.bureau}/{caller.staff_id or caller.key_id}"


@router.post("", status_code=201, responses=REFUSED, summary="Give a roster person an account")
async def create_account(body: a.CreateAccount, caller: AccountManager, request: Request) -> a.AccountSecrets:
    """Create the account; a generated password and, for leadership posts, the TOTP secret are shown once."""
    person = await roster_person(request, caller.bureau, body.staff_id)

    async def again() -> RosterPerson:  # read after the insert: catches a departure during the hash
        return await roster_person(request, caller.bureau, body.staff_id)

    try:
        created = await _accounts(request).create(
            person, body.username, body.password, Role(body.role), _by(caller), roster=again
        )
    except (AccountRefused, PasswordRefused) as exc:
        raise _refused(exc) from exc
    return _secrets(created)


@router.get("", summary="The bureau's accounts")
async def list_accounts(caller: AccountManager, request: Request) -> list[a.AccountCard]:
    """Every account of the caller's bureau, by username."""
    return [a.account_card(doc) for doc in await _accounts(request).of_bureau(caller.bureau)]


@router.post("/{staff_id}/disable", responses=REFUSED, summary="Disable an account: its tokens stop at once")
async def disable(staff_id: str, body: a.Disable, caller: AccountManager, request: Request) -> a.AccountCard:
    """Disable the account and revoke its sessions and personal tokens."""
    try:
        return a.account_card(await _accounts(request).disable(caller.bureau, staff_id, body.reason))
    except AccountRefused as exc:
        raise _refused(exc) from exc


@router.post(
    "/{staff_id}/enable", responses=REFUSED, summary="Enable a disabled account (not after departure)"
)
async def enable(staff_id: str, caller: AccountManager, request: Request) -> a.AccountCard:
    """Enable the account again and clear its lockout."""
    accounts = _accounts(request)
    # The account before the roster: the order that lets enable's fence catch a departure (Accounts.enable).
    seen = await accounts.get(caller.bureau, staff_id)
    person = await roster_person(request, caller.bureau, staff_id)
    try:
        return a.account_card(await accounts.enable(caller.bureau, staff_id, person, seen))
    except AccountRefused as exc:
        raise _refused(exc) from exc


@router.post("/{staff_id}/password", responses=REFUSED, summary="Set a new password: every session ends")
async def reset_password(
    staff_id: str, body: a.SetPassword, caller: AccountManager, request: Request
) -> a.AccountSecrets:
    """Set the password (generated and shown once when left out), clear the lockout, revoke every token."""
    try:
        return _secrets(await _accounts(request).reset_password(caller.bureau, staff_id, body.password))
    except (AccountRefused, PasswordRefused) as exc:
        raise _refused(exc) from exc


@router.post(
    "/{staff_id}/totp", responses=REFUSED, summary="Enrol the account in TOTP again (secret shown once)"
)
async def reset_totp(staff_id: str, caller: AccountManager, request: Request) -> a.AccountSecrets:
    """A new TOTP secret for a person who lost their authenticator or became leadership."""
    try:
        return _secrets(await _accounts(request).enrol_totp(caller.bureau, staff_id))
    except AccountRefused as exc:
        raise _refused(exc) from exc
