"""The MongoDB integration key directory passes the same contract suite as the in-memory fake, on SecantusDB;
its short cache forgets a key at once when this process revokes it, and never remembers a missing key."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.integration_keys import INTEGRATION_KEYS, IntegrationKeyDirectory
from tests.unit.test_signing_key_directory import IntegrationKeyDirectoryContract, raw_b64

pytestmark = pytest.mark.integration


class TestMongoIntegrationKeyDirectory(IntegrationKeyDirectoryContract):
    @pytest.fixture
    async def directory(self, mongo_db: AsyncDatabase) -> IntegrationKeyDirectory:
        directory = IntegrationKeyDirectory(mongo_db)
        await directory.ensure_indexes()
        return directory


async def test_a_key_registered_elsewhere_is_found_at_once_after_a_miss(mongo_db: AsyncDatabase) -> None:
    consumer, admin = IntegrationKeyDirectory(mongo_db), IntegrationKeyDirectory(mongo_db)
    await admin.ensure_indexes()
    assert await consumer.get("ik_not_yet") is None

    key = await admin.register("finance", "oa", raw_b64(Ed25519PrivateKey.generate()))

    assert await consumer.get(key.key_id) is not None


async def test_a_revocation_elsewhere_reaches_a_cached_reader_when_its_cache_expires(
    mongo_db: AsyncDatabase,
) -> None:
    now = [0.0]
    consumer = IntegrationKeyDirectory(mongo_db, cache_seconds=5, clock=lambda: now[0])
    admin = IntegrationKeyDirectory(mongo_db)
    await admin.ensure_indexes()
    key = await admin.register("finance", "oa", raw_b64(Ed25519PrivateKey.generate()))

    async def revoked_as_seen() -> bool:
        seen = await consumer.get(key.key_id)
        assert seen is not None
        return seen.revoked

    assert not await revoked_as_seen()

    await admin.revoke("finance", key.key_id)

    assert not await revoked_as_seen()  # remembered: within the documented delay
    now[0] = 5.1
    assert await revoked_as_seen()
    assert await mongo_db[INTEGRATION_KEYS].count_documents({}) == 1
