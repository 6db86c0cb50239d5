"""Signed Kafka messages from other bureaus' systems (Ed25519, detached signature in headers).

A bureau integration registers an Ed25519 public key (`shared.auth.integration_keys`) and gets a key id.
Every message it produces carries two headers:

- `x-signature-key-id`: the key id, ASCII;
- `x-signature-ed25519`: standard base64 of the 64-byte Ed25519 signature over **exactly the message value
  bytes** as produced (no key, no headers, no timestamp).

Why the raw value bytes and not a canonical JSON form: the consumer verifies what it received, byte for byte,
before it parses anything, so no two JSON libraries ever have to agree on a canonical form, and no parser
quirk (duplicate keys, number formats, Unicode escapes) can make a verified message mean something other than
what was signed. Why the key id in a header: the consumer picks the key without trusting the body.

A signature proves who sent the bytes, not when: a copy of a signed message can be sent again. That is
harmless here because each message names its `request_id`, so a replayed copy opens nothing new, and a replay
with another body no longer matches its signature.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.auth.integration_keys import IntegrationKeys, is_weak_key
from shared.contracts.envelope import Actor

KEY_ID_HEADER = "x-signature-key-id"
SIGNATURE_HEADER = "x-signature-ed25519"
SIGNATURE_BYTES = 64
SIGNING_DESCRIPTION = (
    f"Every message must be signed by a registered integration key of the bureau it names: header "
    f"`{KEY_ID_HEADER}` holds the key id (POST /api/v1/integrations/keys), header `{SIGNATURE_HEADER}` the "
    f"standard base64 of the Ed25519 signature over exactly the message value bytes as produced. Unsigned, "
    f"forged, altered, revoked-key or other-bureau messages go to the DLQ with the reason in `dlq-reason`."
)

Headers = Sequence[tuple[str, bytes | str | None]] | Mapping[str, Any]


class SignatureRejected(Exception):
    """The message is not authenticated; `reason` says why (it goes to the DLQ's dlq-reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedSender:
    """Who sent a message whose signature checked out: an integration of a bureau."""

    key_id: str
    bureau: str
    integration: str

    def actor(self) -> Actor:
        """Return the actor events caused by this message record."""
        return Actor(
            kind="integration", id=self.key_id, bureau=self.bureau, key_id=self.key_id, name=self.integration
        )


def sign_message(private_key: Ed25519PrivateKey, key_id: str, body: bytes) -> list[tuple[str, bytes]]:
    """Return the Kafka headers that authenticate body (the exact value bytes to produce)."""
    signature = private_key.sign(body)
    return [(KEY_ID_HEADER, key_id.encode()), (SIGNATURE_HEADER, base64.b64encode(signature))]


def _header(headers: Headers, name: str) -> str | None:
    """Return the value of a header (case-insensitive name) as text, or None; refuse one given twice."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    values = [value for key, value in items if key.lower() == name]
    if len(values) > 1:
        # Which copy counts would be a parser's choice: a bogus and a valid signature must not depend on order.
        raise SignatureRejected(f"ambiguous signature: the header {name} is given {len(values)} times")
    if not values or values[0] is None:
        return None  # a Kafka header may have a null value: that is no value at all
    value = values[0]
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


async def verify_message(
    keys: IntegrationKeys, *, body: bytes, headers: Headers, claimed_bureau: str
) -> VerifiedSender:
    """Check the signature of body and that its key belongs to claimed_bureau; raise SignatureRejected."""
    key_id, signature_text = _header(headers, KEY_ID_HEADER), _header(headers, SIGNATURE_HEADER)
    if not key_id or not signature_text:
        missing = " and ".join(
            h for h, v in ((KEY_ID_HEADER, key_id), (SIGNATURE_HEADER, signature_text)) if not v
        )
        raise SignatureRejected(f"unsigned message: no {missing} header")
    try:
        signature = base64.b64decode(signature_text, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureRejected(f"malformed signature: {SIGNATURE_HEADER} is not base64") from None
    if len(signature) != SIGNATURE_BYTES:
        raise SignatureRejected(
            f"malformed signature: an Ed25519 signature is {SIGNATURE_BYTES} bytes, got {len(signature)}"
        )
    key = await keys.get(key_id)
    if key is None:
        raise SignatureRejected(f"unknown signing key id {key_id[:80]!r}")
    if key.revoked_at is not None:
        raise SignatureRejected(f"signing key {key_id!r} was revoked at {key.revoked_at.isoformat()}")
    if key.bureau != claimed_bureau:
        raise SignatureRejected(
            f"signing key {key_id!r} belongs to bureau {key.bureau!r}, the message claims bureau {claimed_bureau!r}"
        )
    if is_weak_key(key.public_key):
        # Registered before weak keys were refused: a small-order key accepts forged signatures.
        raise SignatureRejected(f"signing key {key_id!r} is not a valid Ed25519 key; revoke it")
    try:
        key.verifier().verify(signature, body)
    except InvalidSignature:
        raise SignatureRejected(
            f"bad signature: the message body does not match the signature of key {key_id!r} (forged or altered)"
        ) from None
    return VerifiedSender(key_id=key.key_id, bureau=key.bureau, integration=key.integration)
