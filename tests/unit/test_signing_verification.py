"""Signing and verifying intake messages: every reason a message is refused, and what a good one yields."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.auth.integration_keys import InMemoryIntegrationKeyDirectory, IntegrationKey
from shared.auth.signing import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    SignatureRejected,
    sign_message,
    verify_message,
)
from tests.unit.test_signing_key_directory import raw_b64

BODY = json.dumps(
    {"request_id": "r1", "bureau": "finance", "title": "补贴资金拨付"}, ensure_ascii=False
).encode()


@pytest.fixture
async def keys() -> InMemoryIntegrationKeyDirectory:
    return InMemoryIntegrationKeyDirectory()


async def registered(
    keys: InMemoryIntegrationKeyDirectory, bureau: str = "finance"
) -> tuple[Ed25519PrivateKey, IntegrationKey]:
    private = Ed25519PrivateKey.generate()
    return private, await keys.register(bureau, "财政一体化系统", raw_b64(private))


async def rejection(keys: InMemoryIntegrationKeyDirectory, body: bytes, headers: object, bureau: str) -> str:
    with pytest.raises(SignatureRejected) as caught:
        await verify_message(keys, body=body, headers=headers, claimed_bureau=bureau)  # type: ignore[arg-type]
    return caught.value.reason


async def test_signed_message_verifies_as_the_integration_of_its_bureau(keys) -> None:
    private, key = await registered(keys)

    sender = await verify_message(
        keys, body=BODY, headers=sign_message(private, key.key_id, BODY), claimed_bureau="finance"
    )

    assert (sender.key_id, sender.bureau, sender.integration) == (key.key_id, "finance", "财政一体化系统")
    actor = sender.actor()
    assert (actor.kind, actor.id, actor.bureau, actor.key_id, actor.name) == (
        "integration",
        key.key_id,
        "finance",
        key.key_id,
        "财政一体化系统",
    )


async def test_headers_as_a_mapping_of_text_verify_too(keys) -> None:
    # faststream hands headers over decoded, as a dict of str.
    private, key = await registered(keys)
    headers = {k: v.decode() for k, v in sign_message(private, key.key_id, BODY)}

    sender = await verify_message(keys, body=BODY, headers=headers, claimed_bureau="finance")

    assert sender.key_id == key.key_id


async def test_unsigned_message_is_rejected_naming_the_missing_headers(keys) -> None:
    reason = await rejection(keys, BODY, [], "finance")

    assert reason.startswith("unsigned message") and KEY_ID_HEADER in reason and SIGNATURE_HEADER in reason


async def test_message_with_key_id_but_no_signature_is_rejected_as_unsigned(keys) -> None:
    _, key = await registered(keys)

    reason = await rejection(keys, BODY, [(KEY_ID_HEADER, key.key_id.encode())], "finance")

    assert reason == f"unsigned message: no {SIGNATURE_HEADER} header"


async def test_headers_with_null_values_count_as_missing(keys) -> None:
    reason = await rejection(keys, BODY, [(KEY_ID_HEADER, None), (SIGNATURE_HEADER, None)], "finance")

    assert reason.startswith("unsigned message") and KEY_ID_HEADER in reason


async def test_unknown_key_id_is_rejected(keys) -> None:
    private = Ed25519PrivateKey.generate()

    reason = await rejection(keys, BODY, sign_message(private, "ik_unknown", BODY), "finance")

    assert reason == "unknown signing key id 'ik_unknown'"


async def test_revoked_key_is_rejected_even_with_a_good_signature(keys) -> None:
    private, key = await registered(keys)
    await keys.revoke("finance", key.key_id)

    reason = await rejection(keys, BODY, sign_message(private, key.key_id, BODY), "finance")

    assert reason.startswith(f"signing key '{key.key_id}' was revoked at ")


async def test_key_of_another_bureau_is_rejected_naming_both_bureaus(keys) -> None:
    private, key = await registered(keys, bureau="innovation")

    reason = await rejection(keys, BODY, sign_message(private, key.key_id, BODY), "finance")

    assert reason == (
        f"signing key '{key.key_id}' belongs to bureau 'innovation', the message claims bureau 'finance'"
    )


async def test_body_changed_after_signing_is_rejected_as_a_bad_signature(keys) -> None:
    private, key = await registered(keys)
    headers = sign_message(private, key.key_id, BODY)

    reason = await rejection(keys, BODY.replace(b"r1", b"r2"), headers, "finance")

    assert reason.startswith("bad signature") and key.key_id in reason


async def test_signature_made_with_another_private_key_is_rejected(keys) -> None:
    _, key = await registered(keys)
    forger = Ed25519PrivateKey.generate()

    reason = await rejection(keys, BODY, sign_message(forger, key.key_id, BODY), "finance")

    assert reason.startswith("bad signature")


async def test_whitespace_change_breaks_the_signature_because_the_exact_bytes_are_signed(keys) -> None:
    private, key = await registered(keys)
    same_json = json.dumps(json.loads(BODY), ensure_ascii=False, indent=1).encode()

    reason = await rejection(keys, same_json, sign_message(private, key.key_id, BODY), "finance")

    assert reason.startswith("bad signature")


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (b"%%% not base64", "is not base64"),
        (base64.b64encode(bytes(10)), "64 bytes, got 10"),
    ],
)
async def test_malformed_signature_is_rejected_with_the_reason(keys, signature: bytes, reason: str) -> None:
    _, key = await registered(keys)
    headers = [(KEY_ID_HEADER, key.key_id.encode()), (SIGNATURE_HEADER, signature)]

    found = await rejection(keys, BODY, headers, "finance")

    assert found.startswith("malformed signature") and reason in found


async def test_a_weak_key_stored_before_weak_keys_were_refused_never_verifies(keys) -> None:
    # The all-zero key (a point of small order) accepts made-up signatures; one registered earlier must not.
    _, key = await registered(keys)
    weak = key.model_copy(update={"public_key": base64.b64encode(bytes(32)).decode()})
    keys._keys[key.key_id] = weak  # as an older version stored it, without the check
    forged = {KEY_ID_HEADER: key.key_id, SIGNATURE_HEADER: base64.b64encode(bytes(64)).decode()}
    assert "not a valid Ed25519 key" in await rejection(keys, BODY, forged, "finance")


@pytest.mark.parametrize("bogus_first", [True, False], ids=["bogus-then-valid", "valid-then-bogus"])
async def test_a_signature_header_given_twice_is_rejected_whichever_copy_is_valid(
    keys, bogus_first: bool
) -> None:
    private, key = await registered(keys)
    valid = sign_message(private, key.key_id, BODY)
    bogus = ("x-signature-ed25519", base64.b64encode(b"\0" * 64))
    headers = [bogus, *valid] if bogus_first else [*valid, bogus]

    reason = await rejection(keys, BODY, headers, "finance")

    assert "x-signature-ed25519 is given 2 times" in reason
