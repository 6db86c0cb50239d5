"""HTTP entry point: a bureau admin registers, lists and revokes its integrations' signing keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.auth.actors import actor_of
from shared.auth.integration_keys import (
    IntegrationKey,
    IntegrationKeyRegistry,
    InvalidPublicKey,
    KeyAlreadyRegistered,
)
from shared.auth.rights import IntegrationManager
from shared.contracts.text import Identifier, Line100, Text2000
from shared.http_query import KNOWN_QUERY_ONLY
from shared.workdays.calendar import SHANGHAI

router = APIRouter(prefix="/api/v1/integrations", tags=["integrations"])


# As published: 44 base64 characters (32 bytes), or a PEM block; the key itself is checked on registration.
PUBLIC_KEY_PATTERN = (
    r"^\s*([A-Za-z0-9+/]{43}=|-----BEGIN PUBLIC KEY-----[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----)\s*$"
)


class RegisterKey(BaseModel):
    """Body of `POST /api/v1/integrations/keys`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    integration: Line100 = Field(description="The bureau's sending system, e.g. 财政一体化系统")
    public_key: Text2000 = Field(
        description="Ed25519 public key: the raw 32 bytes in base64, or PEM (SubjectPublicKeyInfo)",
        json_schema_extra={"pattern": PUBLIC_KEY_PATTERN},
    )


class IntegrationKeyView(BaseModel):
    """A registered signing key as the API shows it (times in Asia/Shanghai)."""

    key_id: str = Field(description="Put it in the x-signature-key-id header of every signed message")
    bureau: str
    integration: str
    public_key: str = Field(description="Raw 32 bytes, base64")
    created_at: AwareDatetime
    registered_by: str | None
    revoked: bool
    revoked_at: AwareDatetime | None
    revoked_by: str | None

    @classmethod
    def of(cls, key: IntegrationKey) -> IntegrationKeyView:
        """Return the view of a stored key."""
        return cls(
            key_id=key.key_id,
            bureau=key.bureau,
            integration=key.integration,
            public_key=key.public_key,
            created_at=key.created_at.astimezone(SHANGHAI),
            registered_by=key.registered_by,
            revoked=key.revoked,
            revoked_at=key.revoked_at.astimezone(SHANGHAI) if key.revoked_at else None,
            revoked_by=key.revoked_by,
        )


Admin = IntegrationManager  # the bureau admin (rights table): an admin key or a person whose account is admin


def _directory(request: Request) -> IntegrationKeyRegistry:
    directory: IntegrationKeyRegistry = request.app.state.integration_keys
    return directory


@router.post(
    "/keys",
    status_code=status.HTTP_201_CREATED,
    summary="Register an integration's Ed25519 public key (集成签名密钥登记)",
    responses={
        403: {"description": "Not a bureau admin"},
        409: {"description": "This public key is registered already"},
        422: {"description": "Not an Ed25519 public key"},
    },
)
async def register_key(body: RegisterKey, principal: Admin, request: Request) -> IntegrationKeyView:
    """Register a public key for one of the caller's bureau's integrations; answer its key id."""
    try:
        key = await _directory(request).register(
            principal.bureau, body.integration, body.public_key, registered_by=actor_of(principal).id
        )
    except InvalidPublicKey as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"公钥无效 / invalid public key: {exc}"
        ) from None
    except KeyAlreadyRegistered:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "该公钥已登记 / this public key is registered already"
        ) from None
    return IntegrationKeyView.of(key)


@router.get(
    "/keys",
    summary="List the bureau's integration signing keys, revoked ones included",
    dependencies=[KNOWN_QUERY_ONLY],
)
async def list_keys(principal: Admin, request: Request) -> list[IntegrationKeyView]:
    """List the caller's bureau's keys, oldest first."""
    return [IntegrationKeyView.of(key) for key in await _directory(request).of_bureau(principal.bureau)]


@router.delete(
    "/keys/{key_id}",
    summary="Revoke an integration signing key (its messages go to the DLQ from then on)",
    responses={404: {"description": "No such key in the caller's bureau"}},
)
async def revoke_key(
    key_id: Annotated[Identifier, Path(description="The key id")], principal: Admin, request: Request
) -> IntegrationKeyView:
    """Revoke a key of the caller's bureau; revoking it again changes nothing."""
    key = await _directory(request).revoke(principal.bureau, key_id, revoked_by=actor_of(principal).id)
    if key is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"本局没有集成密钥 {key_id} / no such integration key")
    return IntegrationKeyView.of(key)
