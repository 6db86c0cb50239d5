"""HTTP entry points of sign-in: sessions, the caller's own view, personal API tokens, own second factor.

No Idempotency-Key here: these answers carry secrets shown once, which must not be kept for a replay."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials

from services.assignment.entrypoints import auth_models as a
from shared.auth.accounts import Accounts, account_id
from shared.auth.http import Caller, bearer
from shared.auth.personal import PERSONAL_CAP, TokenRefused, create_personal
from shared.auth.rights import rights_of
from shared.auth.sessions import Sessions, SessionTokens, SignInRefused
from shared.auth.tokens import Kind, TokenStore

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Wrong username, password or code, an expired or revoked token; detail says why"},
    429: {"description": "Locked after repeated failures; Retry-After says for how long"},
}
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _sessions(request: Request) -> Sessions:
    return request.app.state.sessions  # type: ignore[no-any-return]


def _tokens(request: Request) -> TokenStore:
    return request.app.state.tokens  # type: ignore[no-any-return]


def client_address(request: Request) -> str:
    """The caller's address: the last X-Forwarded-For entry, else the connection's peer.

    The last one because the gateway appends the address it saw to whatever the caller sent: earlier entries
    are the caller's to invent. (Reached without the gateway, the header is the caller's own; the per-username
    limit still holds then.)"""
    forwarded = request.headers.getlist("x-forwarded-for")
    last = forwarded[-1].split(",")[-1].strip() if forwarded else ""
    return last or (request.client.host if request.client else "")


def _refused(exc: SignInRefused) -> HTTPException:
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else {"WWW-Authenticate": "Bearer"}
    return HTTPException(exc.status, str(exc), headers)


def _answer(session: SessionTokens) -> a.SessionAnswer:
    account, access, refresh = session.account, session.access, session.refresh
    assert access.expires_at is not None and refresh.expires_at is not None  # sessions always expire
    return a.SessionAnswer(
        access_token=access.token,
        expires_at=a.local(access.expires_at) or access.expires_at,
        expires_in=int(session.lifetime.total_seconds()),
        refresh_token=refresh.token,
        refresh_expires_at=a.local(refresh.expires_at) or refresh.expires_at,
        person=a.Person(
            bureau=account["bureau"],
            staff_id=account["staff_id"],
            name=account["name"],
            post=account["post"],
            section=account.get("section"),
            role=account["role"],
        ),
    )


@router.post("/sign-in", responses=REFUSED, summary="Sign in with password (and TOTP code for leadership)")
async def sign_in(body: a.SignIn, request: Request) -> a.SessionAnswer:
    """Open a session: a 15-minute access token and a refresh token."""
    try:
        session = await _sessions(request).sign_in(
            body.bureau, body.username, body.password, body.totp, client_address(request)
        )
        return _answer(session)
    except SignInRefused as exc:
        raise _refused(exc) from exc


@router.post("/refresh", responses=REFUSED, summary="Exchange a refresh token for a new pair (once)")
async def refresh(body: a.Refresh, request: Request) -> a.SessionAnswer:
    """A refresh token works once; a reused one ends its session."""
    try:
        return _answer(await _sessions(request).refresh(body.refresh_token))
    except SignInRefused as exc:
        raise _refused(exc) from exc


@router.post(
    "/sign-out",
    status_code=204,
    responses={401: {"description": "Not a live session token"}},
    summary="End the session: its access and refresh tokens answer 401 from the next request on",
)
async def sign_out(request: Request, credentials: Bearer) -> Response:
    """Revoke every token of the caller's session."""
    if credentials is None or not await _sessions(request).sign_out(credentials.credentials):
        # A made-up or revoked bearer is marked as refused (the gateway counts those against the address); a
        # working personal token or bureau key is not a session's, which says nothing against it.
        working = credentials is not None and await request.app.state.api_keys.authenticate(
            credentials.credentials
        )
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "不是有效的会话令牌 / not a live session access token",
            {
                "WWW-Authenticate": "Bearer"
                if working or credentials is None
                else 'Bearer error="invalid_token"'
            },
        )
    return Response(status_code=204)


@router.get("/me", summary="Who the caller is (person or integration) and the rights they hold")
async def me(caller: Caller) -> a.Me:
    """The caller as authenticated now."""
    return a.Me(
        kind="person" if caller.staff_id else "integration",
        bureau=caller.bureau,
        role=caller.role.value,
        key_id=caller.key_id,
        staff_id=caller.staff_id,
        name=caller.name,
        post=caller.post,
        section=caller.section,
        rights=sorted(r.name.lower() for r in rights_of(caller)),
    )


def _person(caller: Caller) -> str:
    """The caller's account id; a bureau key has no personal tokens (403)."""
    if caller.staff_id is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "只有登录的人员有个人令牌 / personal tokens belong to people"
        )
    return account_id(caller.bureau, caller.staff_id)


@router.post(
    "/tokens",
    status_code=201,
    responses={
        401: {"description": "The session ended, or the account was disabled or changed meanwhile"},
        403: {"description": "Not from a signed-in session (a personal token or a bureau key)"},
        409: {"description": f"Already {PERSONAL_CAP} live personal tokens: delete one first"},
    },
    summary="Create a personal API token (shown once)",
)
async def create_token(
    body: a.NewToken, caller: Caller, request: Request, credentials: Bearer
) -> a.IssuedToken:
    """Issue a named token for scripts; only a signed-in session may create one (not another token)."""
    _person(caller)
    lifetime = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    try:
        issued = await create_personal(
            request.app.state.accounts,
            _tokens(request),
            credentials.credentials if credentials is not None else "",
            body.name,
            lifetime,
        )
    except TokenRefused as exc:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        raise HTTPException(exc.status, str(exc), headers) from exc
    return a.IssuedToken(
        token=issued.token,
        token_id=issued.token_id,
        name=body.name,
        created_at=a.local(issued.created_at) or issued.created_at,
        expires_at=a.local(issued.expires_at),
        last_used_at=None,
    )


@router.get("/tokens", summary="The caller's personal tokens (names and use, never the tokens)")
async def list_tokens(caller: Caller, request: Request) -> list[a.TokenCard]:
    """Personal tokens not revoked, oldest first."""
    return [_card(doc) for doc in await _tokens(request).personal(_person(caller))]


@router.delete("/tokens/{token_id}", status_code=204, responses={404: {"description": "No such token"}})
async def revoke_token(token_id: str, caller: Caller, request: Request) -> Response:
    """Revoke one of the caller's personal tokens: it answers 401 from the next request on."""
    if not await _tokens(request).revoke_personal(_person(caller), token_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "找不到该令牌 / token not found")
    return Response(status_code=204)


@router.post(
    "/totp",
    responses={
        **REFUSED,
        403: {"description": "Not from a signed-in session (a personal token or a bureau key)"},
    },
    summary="Enrol (again) in the TOTP second factor: the secret is shown once",
)
async def enrol_totp(
    body: a.ConfirmPassword, caller: Caller, request: Request, credentials: Bearer
) -> a.AccountSecrets:
    """Give the caller's account a new TOTP secret after checking their password and, once enrolled, a code.

    Only from a signed-in session: a personal token is for scripts and must not change how its owner signs
    in. The checks count toward the sign-in lockout, so this is no way around it."""
    _person(caller)
    if credentials is None or not credentials.credentials.startswith(Kind.ACCESS.value):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "请先登录再开通动态码 / enrol in TOTP from a signed-in session, not with a personal token",
        )
    accounts: Accounts = request.app.state.accounts
    account = await accounts.get(caller.bureau, caller.staff_id or "")
    if account is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "账号不存在 / no such account")
    try:
        await _sessions(request).confirm(account, body.password, body.totp, client_address(request))
    except SignInRefused as exc:
        raise _refused(exc) from exc
    enrolled = await accounts.enrol_totp(caller.bureau, account["staff_id"])
    return a.AccountSecrets(
        account=a.account_card(enrolled.account), totp_secret=enrolled.totp_secret, totp_uri=enrolled.totp_uri
    )


def _card(doc: dict[str, Any]) -> a.TokenCard:
    return a.TokenCard(
        token_id=doc["token_id"],
        name=doc["label"],
        created_at=a.local(doc["created_at"]) or doc["created_at"],
        expires_at=a.local(doc.get("expires_at")),
        last_used_at=a.local(doc.get("last_used_at")),
    )
