"""The rating link's token: signed, expiring, single use (single use is the store's job: one jti, one rating).

Why HMAC and not a random id alone: the link is checked before any database read, so a forged or
truncated token costs nothing, and the case it names cannot be changed by editing the link.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MAX_TOKEN_CHARACTERS = 512


class TokenRejected(Exception):
    """The token is forged, malformed or expired; the message says which."""


@dataclass(frozen=True)
class FeedbackClaims:
    """What a rating link grants: rating one case of one bureau once, until it expires."""

    token_id: str
    bureau: str
    case_id: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FeedbackTokens:
    """Issues and checks rating-link tokens with one secret."""

    def __init__(self, secret: bytes, lifetime: timedelta = timedelta(days=14)) -> None:
        if len(secret) < 32:
            raise ValueError("the feedback token secret needs at least 32 bytes")
        self._secret, self._lifetime = secret, lifetime

    def issue(
        self, bureau: str, case_id: str, now: datetime, token_id: str | None = None
    ) -> tuple[str, FeedbackClaims]:
        """Return a token for rating a case, and its claims."""
        claims = FeedbackClaims(token_id or secrets.token_hex(12), bureau, case_id, now + self._lifetime)
        body = json.dumps(
            {"jti": claims.token_id, "b": bureau, "c": case_id, "exp": int(claims.expires_at.timestamp())},
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        return f"{_b64(body)}.{_b64(self._sign(body))}", claims

    def check(self, token: str, now: datetime) -> FeedbackClaims:
        """Return the claims of a genuine, unexpired token, or raise TokenRejected with the reason."""
        if len(token) > MAX_TOKEN_CHARACTERS or token.count(".") != 1:
            raise TokenRejected("链接格式无效 / malformed token")
        body_text, signature_text = token.split(".")
        try:
            body, signature = _unb64(body_text), _unb64(signature_text)
        except (binascii.Error, ValueError):
            raise TokenRejected("链接格式无效 / malformed token") from None
        if not hmac.compare_digest(signature, self._sign(body)):
            raise TokenRejected("链接不是本系统签发的 / the link is not genuine (signature does not match)")
        try:
            raw = json.loads(body)
            claims = FeedbackClaims(
                str(raw["jti"]), str(raw["b"]), str(raw["c"]), datetime.fromtimestamp(int(raw["exp"]), UTC)
            )
        except (ValueError, KeyError, TypeError):
            raise TokenRejected("链接格式无效 / malformed token") from None
        if now >= claims.expires_at:
            raise TokenRejected("链接已过期 / the link has expired")
        return claims

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()
