"""FastAPI dependencies: every /api call carries `Authorization: Bearer <api key>`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.auth.keys import WRITE_ROLES, Authenticator, Principal

bearer = HTTPBearer(
    auto_error=False, description="A bureau's API key, or a person's access or personal token"
)


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """Authenticate the caller or answer 401."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "缺少凭据，请在请求头带上 Authorization: Bearer <api key> / "
            "missing Authorization: Bearer <api key>",
            {"WWW-Authenticate": "Bearer"},
        )
    store: Authenticator = request.app.state.api_keys
    principal = await store.authenticate(credentials.credentials)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "未知、已撤销或已过期的凭据 / unknown, revoked or expired API key or token",
            # RFC 6750's mark of a refused bearer token: the gateway counts only these 401s against an
            # address (a 401 for a password or refresh token in a body says nothing about the bearer).
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return principal


async def writer_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """Authenticate a caller allowed to change its bureau's cases, or answer 403."""
    if principal.role not in WRITE_ROLES:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"只读角色，不能修改 / role {principal.role.value} may only read"
        )
    return principal


Caller = Annotated[Principal, Depends(current_principal)]
Writer = Annotated[Principal, Depends(writer_principal)]
