"""POST /api/v1/integrations/keys refuses degenerate Ed25519 keys: a small-order point verifies forgeries."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from services.intake.bootstrap import Overrides, build_app
from services.intake.settings import IntakeSettings
from shared.auth.integration_keys import (
    EdwardsPoint,
    InMemoryIntegrationKeyDirectory,
    InvalidPublicKey,
    decompress_point,
    is_identity,
    multiply_point,
    parse_public_key,
)
from shared.auth.keys import Role
from shared.eventstore.memory import InMemoryRecorder
from tests.fakes import FakeApiKeys

FINANCE_ADMIN = {"Authorization": "Bearer finance-admin"}
KEYS = "/api/v1/integrations/keys"
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493  # the prime order of the base point


def encode(point: EdwardsPoint) -> bytes:
    """Encode a point as RFC 8032 section 5.1.2 does: y little-endian, the parity of x in the top bit."""
    x_, y_, z, _ = point
    z_inv = pow(z, -1, P)
    x, y = x_ * z_inv % P, y_ * z_inv % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def small_order_points() -> list[bytes]:
    """Return the encodings of the eight points P with [8]P = O (the curve's group is Z/8 x Z/L).

    [L]Q of any curve point Q lies in that 8-torsion; the first one of order exactly 8 generates it."""
    for y in range(2, 1000):
        q = decompress_point(y.to_bytes(32, "little"))
        if q is None:
            continue
        generator = multiply_point(L, q)
        if not is_identity(multiply_point(4, generator)):
            return [encode(multiply_point(k, generator)) for k in range(8)]
    raise AssertionError("no point of order 8 found")


SMALL_ORDER = small_order_points()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    keys = FakeApiKeys({"finance-admin": ("finance", Role.ADMIN)})
    overrides = Overrides(
        recorder=InMemoryRecorder(), api_keys=keys, integration_keys=InMemoryIntegrationKeyDirectory()
    )
    app = build_app(IntakeSettings(), overrides)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


async def register(client: httpx.AsyncClient, public_key: str) -> httpx.Response:
    return await client.post(
        KEYS, json={"integration": "财政一体化系统", "public_key": public_key}, headers=FINANCE_ADMIN
    )


def test_the_eight_small_order_points_are_distinct_and_include_the_obvious_ones() -> None:
    assert len(set(SMALL_ORDER)) == 8
    for raw in SMALL_ORDER:
        point = decompress_point(raw)
        assert point is not None and is_identity(multiply_point(8, point))
    assert (1).to_bytes(32, "little") in SMALL_ORDER  # the identity (0, 1)
    assert (P - 1).to_bytes(32, "little") in SMALL_ORDER  # (0, -1), of order 2
    assert bytes(32) in SMALL_ORDER  # (sqrt(-1), 0), of order 4: the all-zero key


@pytest.mark.parametrize("raw", SMALL_ORDER, ids=[r.hex()[:8] for r in SMALL_ORDER])
async def test_a_small_order_point_is_refused_with_422(client: httpx.AsyncClient, raw: bytes) -> None:
    answer = await register(client, b64(raw))

    assert answer.status_code == 422, answer.text
    assert "公钥无效" in answer.json()["detail"] and "small order" in answer.json()["detail"]


async def test_the_all_zero_key_is_refused_with_422_in_every_spelling(client: httpx.AsyncClient) -> None:
    answers = [
        await register(client, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        await register(client, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),  # url-safe, unpadded
    ]

    assert [a.status_code for a in answers] == [422, 422]


def non_canonical_encodings() -> list[bytes]:
    """Small-order points spelt y + p (only y < 19 fits) or with a sign bit where x = 0."""
    spelt_y_plus_p = [
        (int.from_bytes(raw, "little") + P).to_bytes(32, "little")
        for raw in SMALL_ORDER
        if int.from_bytes(raw, "little") < 19
    ]
    with_sign_bit = [with_sign(raw) for raw in spelt_y_plus_p]
    negative_zero = [with_sign(y.to_bytes(32, "little")) for y in (1, P - 1)]  # x = 0 has one sign only
    return spelt_y_plus_p + with_sign_bit + negative_zero


def with_sign(raw: bytes) -> bytes:
    """Set the encoding's top bit (the sign of x)."""
    return (int.from_bytes(raw, "little") | 1 << 255).to_bytes(32, "little")


@pytest.mark.parametrize("raw", non_canonical_encodings(), ids=lambda r: r.hex()[:8] + "-" + r.hex()[-4:])
async def test_a_non_canonical_encoding_of_a_small_order_point_is_refused_with_422(
    client: httpx.AsyncClient, raw: bytes
) -> None:
    answer = await register(client, b64(raw))

    assert answer.status_code == 422, answer.text
    assert "公钥无效" in answer.json()["detail"]


async def test_a_real_key_is_accepted_in_both_forms(client: httpx.AsyncClient) -> None:
    raw_key = Ed25519PrivateKey.generate().public_key()
    pem_key = Ed25519PrivateKey.generate().public_key()

    raw_answer = await register(client, b64(raw_key.public_bytes_raw()))
    pem_answer = await register(
        client, pem_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    )

    assert raw_answer.status_code == 201
    assert raw_answer.json()["public_key"] == b64(raw_key.public_bytes_raw())
    assert pem_answer.status_code == 201


def test_a_pem_wrapping_a_small_order_point_is_refused_too() -> None:
    """The CLI and the route both register through parse_public_key; a PEM must not slip past the check."""
    prefix = bytes.fromhex("302a300506032b6570032100")  # SubjectPublicKeyInfo of Ed25519, then the 32 bytes
    body = base64.b64encode(prefix + bytes(32)).decode()
    text = f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"

    with pytest.raises(InvalidPublicKey, match="small order"):
        parse_public_key(text)
