"""Contract suite of the integration key directory: the in-memory fake here, MongoDB in
tests/integration/test_signed_key_directory.py (same class, another `directory` fixture)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared.auth.integration_keys import (
    InMemoryIntegrationKeyDirectory,
    InvalidPublicKey,
    KeyAlreadyRegistered,
    parse_public_key,
)


def raw_b64(private: Ed25519PrivateKey) -> str:
    """Return the public half as raw 32 bytes in base64, one of the accepted forms."""
    return base64.b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def pem(private: Ed25519PrivateKey) -> str:
    """Return the public half as a PEM SubjectPublicKeyInfo, the other accepted form."""
    return private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


class IntegrationKeyDirectoryContract:
    """Every directory: register, look up by id, list per bureau, revoke per bureau."""

    @pytest.fixture
    def directory(self) -> object:
        raise NotImplementedError

    async def test_registered_key_is_found_by_its_id_with_bureau_and_integration(self, directory) -> None:
        private = Ed25519PrivateKey.generate()

        key = await directory.register("finance", "财政一体化系统", raw_b64(private), registered_by="admin-1")

        found = await directory.get(key.key_id)
        assert found is not None and found.bureau == "finance" and found.integration == "财政一体化系统"
        assert found.public_key == raw_b64(private) and not found.revoked
        assert found.created_at.utcoffset() is not None

    async def test_pem_and_raw_forms_of_one_key_are_the_same_key(self, directory) -> None:
        private = Ed25519PrivateKey.generate()

        key = await directory.register("finance", "oa", pem(private))

        assert key.public_key == raw_b64(private)
        with pytest.raises(KeyAlreadyRegistered):
            await directory.register("innovation", "oa", raw_b64(private))

    async def test_unknown_key_id_is_none(self, directory) -> None:
        assert await directory.get("ik_0000000000000000") is None

    async def test_listing_shows_only_the_bureaus_own_keys_oldest_first(self, directory) -> None:
        first = await directory.register("finance", "a", raw_b64(Ed25519PrivateKey.generate()))
        second = await directory.register("finance", "b", raw_b64(Ed25519PrivateKey.generate()))
        await directory.register("innovation", "c", raw_b64(Ed25519PrivateKey.generate()))

        listed = await directory.of_bureau("finance")

        assert [k.key_id for k in listed] == [first.key_id, second.key_id]

    async def test_revoked_key_is_still_found_and_marked_revoked(self, directory) -> None:
        key = await directory.register("finance", "oa", raw_b64(Ed25519PrivateKey.generate()))

        revoked = await directory.revoke("finance", key.key_id, revoked_by="admin-1")
        again = await directory.revoke("finance", key.key_id, revoked_by="admin-2")

        found = await directory.get(key.key_id)
        assert revoked is not None and revoked.revoked and found is not None and found.revoked
        assert again is not None and again.revoked_at == revoked.revoked_at and again.revoked_by == "admin-1"

    async def test_another_bureau_cannot_revoke_a_key(self, directory) -> None:
        key = await directory.register("finance", "oa", raw_b64(Ed25519PrivateKey.generate()))

        assert await directory.revoke("innovation", key.key_id) is None
        found = await directory.get(key.key_id)
        assert found is not None and not found.revoked

    async def test_invalid_public_key_is_refused_with_the_reason(self, directory) -> None:
        with pytest.raises(InvalidPublicKey, match="32 bytes"):
            await directory.register("finance", "oa", base64.b64encode(b"short").decode())
        assert await directory.of_bureau("finance") == []


class TestInMemoryIntegrationKeyDirectory(IntegrationKeyDirectoryContract):
    @pytest.fixture
    def directory(self) -> InMemoryIntegrationKeyDirectory:
        return InMemoryIntegrationKeyDirectory()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not base64 at all!", "not base64"),
        (base64.b64encode(bytes(31)).decode(), "32 bytes, this one is 31"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "PEM"),
    ],
)
def test_parse_public_key_refuses_what_is_not_an_ed25519_key(text: str, reason: str) -> None:
    with pytest.raises(InvalidPublicKey, match=reason):
        parse_public_key(text)


def test_parse_public_key_refuses_a_pem_of_another_algorithm() -> None:
    rsa = generate_private_key(public_exponent=65537, key_size=1024)
    text = rsa.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()

    with pytest.raises(InvalidPublicKey, match="Ed25519 key is required"):
        parse_public_key(text)


def test_parse_public_key_accepts_url_safe_base64_without_padding() -> None:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    assert parse_public_key(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw_b64(private)
