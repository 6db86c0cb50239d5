"""POST/GET/DELETE /api/v1/integrations/keys on the intake app with fakes: admins only, own bureau only."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.intake.bootstrap import Overrides, build_app
from services.intake.settings import IntakeSettings
from shared.auth.integration_keys import InMemoryIntegrationKeyDirectory
from shared.auth.keys import Principal, Role
from shared.eventstore.memory import InMemoryRecorder
from tests.fakes import FakeApiKeys
from tests.unit.test_signing_key_directory import pem, raw_b64

FINANCE_ADMIN = {"Authorization": "Bearer finance-admin"}
INNOVATION_ADMIN = {"Authorization": "Bearer innovation-admin"}
FINANCE_STAFF = {"Authorization": "Bearer finance-staff"}
KEYS = "/api/v1/integrations/keys"


@pytest.fixture
def directory() -> InMemoryIntegrationKeyDirectory:
    return InMemoryIntegrationKeyDirectory()


PEOPLE = {
    # A clerk whose account is the bureau admin, and a director whose account is not: the right is the admin's.
    "clerk-admin-token": Principal(
        bureau="finance", role=Role.ADMIN, key_id="tok-1", staff_id="s-clerk", name="李四", post="clerk"
    ),
    "director-token": Principal(
        bureau="finance", role=Role.STAFF, key_id="tok-2", staff_id="s-dir", name="王五", post="director"
    ),
}


class KeysAndPeople(FakeApiKeys):
    """Bureau keys, and people's session tokens as the real authenticator resolves them."""

    async def authenticate(self, key: str) -> Principal | None:
        """Return a person's principal for their token, else a key's."""
        return PEOPLE.get(key) or await super().authenticate(key)


@pytest.fixture
async def client(directory: InMemoryIntegrationKeyDirectory) -> AsyncIterator[httpx.AsyncClient]:
    keys = KeysAndPeople(
        {
            "finance-admin": ("finance", Role.ADMIN),
            "innovation-admin": ("innovation", Role.ADMIN),
            "finance-staff": ("finance", Role.STAFF),
            "finance-integration": ("finance", Role.INTEGRATION),
        }
    )
    overrides = Overrides(recorder=InMemoryRecorder(), api_keys=keys, integration_keys=directory)
    app = build_app(IntakeSettings(), overrides)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


async def register(
    client: httpx.AsyncClient, public_key: str, headers: dict[str, str] = FINANCE_ADMIN
) -> httpx.Response:
    return await client.post(
        KEYS, json={"integration": "财政一体化系统", "public_key": public_key}, headers=headers
    )


async def test_admin_registers_a_key_and_gets_its_id_in_shanghai_time(
    client: httpx.AsyncClient, directory: InMemoryIntegrationKeyDirectory
) -> None:
    private = Ed25519PrivateKey.generate()

    answer = await register(client, pem(private))

    assert answer.status_code == 201
    body = answer.json()
    assert body["bureau"] == "finance" and body["integration"] == "财政一体化系统" and not body["revoked"]
    assert body["public_key"] == raw_b64(private) and body["created_at"].endswith("+08:00")
    stored = await directory.get(body["key_id"])
    assert stored is not None and stored.registered_by == "fake-finance-admin"


async def test_listing_shows_the_bureaus_own_keys_only(client: httpx.AsyncClient) -> None:
    mine = (await register(client, raw_b64(Ed25519PrivateKey.generate()))).json()
    await register(client, raw_b64(Ed25519PrivateKey.generate()), INNOVATION_ADMIN)

    listed = (await client.get(KEYS, headers=FINANCE_ADMIN)).json()

    assert [k["key_id"] for k in listed] == [mine["key_id"]]


async def test_admin_revokes_a_key_and_the_listing_shows_it_revoked(client: httpx.AsyncClient) -> None:
    key_id = (await register(client, raw_b64(Ed25519PrivateKey.generate()))).json()["key_id"]

    answer = await client.delete(f"{KEYS}/{key_id}", headers=FINANCE_ADMIN)

    assert answer.status_code == 200 and answer.json()["revoked"]
    assert answer.json()["revoked_at"].endswith("+08:00")
    [listed] = (await client.get(KEYS, headers=FINANCE_ADMIN)).json()
    assert listed["revoked"]


async def test_another_bureaus_key_id_is_not_found_and_stays_valid(client: httpx.AsyncClient) -> None:
    key_id = (await register(client, raw_b64(Ed25519PrivateKey.generate()))).json()["key_id"]

    answer = await client.delete(f"{KEYS}/{key_id}", headers=INNOVATION_ADMIN)

    assert answer.status_code == 404
    [listed] = (await client.get(KEYS, headers=FINANCE_ADMIN)).json()
    assert not listed["revoked"]


@pytest.mark.parametrize(
    ("caller", "named"), [("finance-staff", "a staff key"), ("finance-integration", "an integration key")]
)
async def test_only_an_admin_manages_keys(client: httpx.AsyncClient, caller: str, named: str) -> None:
    headers = {"Authorization": f"Bearer {caller}"}

    answers = [
        await register(client, raw_b64(Ed25519PrivateKey.generate()), headers),
        await client.get(KEYS, headers=headers),
        await client.delete(f"{KEYS}/ik_0000000000000000", headers=headers),
    ]

    assert [a.status_code for a in answers] == [403, 403, 403]
    detail = answers[0].json()["detail"]
    assert detail == f"无此权限 / {named} may not manage integration signing keys: only the bureau admin"


async def test_without_a_key_the_answer_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get(KEYS)).status_code == 401


@pytest.mark.parametrize(
    ("public_key", "reason"),
    [
        (base64.b64encode(bytes(16)).decode(), "32 bytes"),
        ("hello world", "not base64"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "PEM"),
        ("-----BEGIN PUBLIC KEY-----\n公钥\n-----END PUBLIC KEY-----", "PEM"),
    ],
)
async def test_a_bad_public_key_is_422_with_the_reason(
    client: httpx.AsyncClient, public_key: str, reason: str
) -> None:
    answer = await register(client, public_key)

    assert answer.status_code == 422 and reason in answer.json()["detail"]


async def test_bad_bodies_are_422(client: httpx.AsyncClient) -> None:
    key = raw_b64(Ed25519PrivateKey.generate())
    bodies = [
        {"public_key": key},
        {"integration": " ", "public_key": key},
        {"integration": "a", "public_key": key, "x": 1},
    ]

    answers = [await client.post(KEYS, json=b, headers=FINANCE_ADMIN) for b in bodies]

    assert [a.status_code for a in answers] == [422, 422, 422]


async def test_a_key_registered_twice_is_409(client: httpx.AsyncClient) -> None:
    key = raw_b64(Ed25519PrivateKey.generate())
    await register(client, key)

    assert (await register(client, key, INNOVATION_ADMIN)).status_code == 409


async def test_a_malformed_key_id_in_the_path_is_422(client: httpx.AsyncClient) -> None:
    assert (await client.delete(f"{KEYS}/not:an:id", headers=FINANCE_ADMIN)).status_code == 422


@pytest.mark.parametrize(
    "raw_body",
    [
        b'{"integration": "oa", "public_key": "\\ud800"}',
        b'{"integration": "oa", "public_key": "-----BEGIN \\ud800"}',
        b'{"integration": "oa\\u0000", "public_key": "AAAA"}',
        b'{"integration": "oa", "public_key": 12345}',
        b'{"integration": ["oa"], "public_key": null}',
        b'{"integration": "oa", "public_key": "' + b"A" * 5000 + b'"}',
        b"[]",
        b"not json",
    ],
)
async def test_hostile_bodies_are_refused_with_4xx_never_5xx(
    client: httpx.AsyncClient, raw_body: bytes
) -> None:
    answer = await client.post(
        KEYS, content=raw_body, headers={**FINANCE_ADMIN, "Content-Type": "application/json"}
    )

    assert 400 <= answer.status_code < 500, answer.text


async def test_the_bureau_admin_person_manages_keys_in_their_name_and_a_director_without_it_is_refused(
    client: httpx.AsyncClient, directory: InMemoryIntegrationKeyDirectory
) -> None:
    admin = {"Authorization": "Bearer clerk-admin-token"}
    director = {"Authorization": "Bearer director-token"}

    answer = await register(client, raw_b64(Ed25519PrivateKey.generate()), admin)
    refused = await register(client, raw_b64(Ed25519PrivateKey.generate()), director)
    revoked = await client.delete(f"{KEYS}/{answer.json()['key_id']}", headers=admin)

    # The person, not their session token, registered it.
    assert answer.status_code == 201 and answer.json()["registered_by"] == "s-clerk"
    assert revoked.status_code == 200 and revoked.json()["revoked_by"] == "s-clerk"
    assert refused.status_code == 403
    assert "manage integration signing keys" in refused.json()["detail"] and "bureau admin" in refused.text
    assert [k.registered_by for k in await directory.of_bureau("finance")] == ["s-clerk"]
