"""Request and response bodies of sign-in, personal tokens and accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, StringConstraints

from shared.auth.keys import Role
from shared.auth.passwords import MAX_LENGTH, MIN_LENGTH
from shared.contracts.answers import in_shanghai, whole_number
from shared.contracts.text import Identifier, Line50, Line200


def _encodable(text: str) -> str:
    # Why: a lone surrogate passes JSON decoding but cannot be hashed (UTF-8); refuse it as input, not 500.
    try:
        text.encode()
    except UnicodeEncodeError:
        raise ValueError(
            "须为有效的 Unicode 文本（不含孤立代理项） / must be valid Unicode text (no lone surrogates)"
        ) from None
    return text


# Never stripped or otherwise changed: a password is compared as typed.
Password = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=MAX_LENGTH), AfterValidator(_encodable)
]
# A password being set: the rules of shared/auth/passwords.py apply (their reasons say which); the length is
# published (the distinct characters are said in the description only).
NewPassword = Annotated[
    Password,
    Field(
        json_schema_extra={"minLength": MIN_LENGTH},
        description=f"At least {MIN_LENGTH} characters, at least 4 different ones",
    ),
]
# The bounds inside the type: on `WholeNumber | None` pydantic could not publish them as minimum/maximum.
TokenDays = Annotated[int, Field(ge=1, le=366), BeforeValidator(whole_number), Strict()]
TotpCode = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9]{6}$")]
Token = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=200), AfterValidator(_encodable)
]
AccountRole = Literal["staff", "admin", "viewer"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignIn(_Body):
    """A person signs in to their bureau."""

    bureau: Identifier
    username: Identifier
    password: Password
    totp: TotpCode | None = Field(default=None, description="6-digit code; required for leadership posts")


class Refresh(_Body):
    """Exchange a refresh token (once) for a new pair."""

    refresh_token: Token


class Person(BaseModel):
    """A signed-in person as their account stands now."""

    bureau: str
    staff_id: str
    name: str
    post: str
    section: str | None = None
    role: str


class SessionAnswer(BaseModel):
    """Tokens of a session: send `access_token` as `Authorization: Bearer …`; refresh before it expires."""

    token_type: Literal["bearer"] = "bearer"
    access_token: str
    expires_at: datetime
    expires_in: int = Field(description="Seconds the access token stays valid")
    refresh_token: str
    refresh_expires_at: datetime
    person: Person


class Me(BaseModel):
    """Who the caller is and what they may do."""

    kind: Literal["person", "integration"]
    bureau: str
    role: str
    key_id: str
    staff_id: str | None = None
    name: str | None = None
    post: str | None = None
    section: str | None = None
    rights: list[str] = Field(description="Names of the rights the caller holds (see README's rights table)")


class NewToken(_Body):
    """A personal API token for scripts."""

    name: Line50
    expires_in_days: TokenDays | None = Field(default=None, description="None: until revoked")


class TokenCard(BaseModel):
    """A personal token as listed (never the token itself)."""

    token_id: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class IssuedToken(TokenCard):
    """A personal token as created: `token` is shown this once."""

    token: str


class CreateAccount(_Body):
    """A bureau admin gives a roster person an account."""

    staff_id: Identifier
    username: Identifier
    role: AccountRole = Field(
        default="staff", description="admin: bureau admin (roster, accounts); viewer: read only"
    )
    password: NewPassword | None = Field(
        default=None, description="Left out: one is generated and shown once"
    )


class SetPassword(_Body):
    """A new password (left out: generated and shown once); every session of the account ends."""

    password: NewPassword | None = None


class Disable(_Body):
    """Why the account is disabled."""

    reason: Line200


class ConfirmPassword(_Body):
    """The caller's current password (and current code when enrolled), to change their own second factor."""

    password: Password
    totp: TotpCode | None = Field(
        default=None, description="the current 6-digit code; required once enrolled"
    )


class AccountCard(BaseModel):
    """An account as the bureau admin sees it (no secret)."""

    staff_id: str
    username: str
    name: str
    post: str
    section: str | None
    role: str
    second_factor: bool
    disabled: bool
    disabled_reason: str | None
    locked_until: datetime | None
    created_at: datetime


class AccountSecrets(BaseModel):
    """What an account change hands out once: a generated password and/or a new TOTP secret."""

    account: AccountCard
    password: str | None = None
    totp_secret: str | None = None
    totp_uri: str | None = None


def local(moment: datetime | None) -> datetime | None:
    """A stored time as the API answers it: Asia/Shanghai."""
    return in_shanghai(moment) if moment is not None else None


def account_card(doc: dict[str, Any]) -> AccountCard:
    """The card of an account document."""
    return AccountCard(
        staff_id=doc["staff_id"],
        username=doc["username"],
        name=doc["name"],
        post=doc["post"],
        section=doc.get("section"),
        role=doc["role"],
        second_factor=doc.get("totp_secret") is not None,
        disabled=bool(doc.get("disabled")),
        disabled_reason=doc.get("disabled_reason"),
        locked_until=local(doc.get("locked_until")),
        created_at=local(doc["created_at"]) or doc["created_at"],
    )


def role_of(value: str) -> Role:
    """The Role of an account role name."""
    return Role(value)
