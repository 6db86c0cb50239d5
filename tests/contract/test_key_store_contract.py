"""Contract suite for the vault's KeyStore: the in-memory store passes it here, MongoKeyStore in
tests/integration/test_mongo_key_store_contract.py. Erasing a subject shreds what was sealed before; contact
details given again afterwards are sealed under a new key, which never opens the old data."""

from __future__ import annotations

import asyncio

import pytest

from shared.crypto.vault import KeyStore, MemoryKeyStore, Vault

SUBJECT = "enterprise:finance:91410100L2UMX4482Y"
CONTACT = {"name": "李四", "mobile": "13700001111"}


class KeyStoreContract:
    """Behaviour every KeyStore shares; a subclass provides the `keys` fixture (an empty store)."""

    async def test_sealed_details_open_again(self, keys: KeyStore) -> None:
        vault = Vault(keys)
        sealed = await vault.seal(SUBJECT, CONTACT)
        assert CONTACT["mobile"] not in str(sealed)
        assert await vault.open(sealed) == CONTACT

    async def test_erasing_a_subject_leaves_what_was_sealed_unreadable(self, keys: KeyStore) -> None:
        vault = Vault(keys)
        sealed = await vault.seal(SUBJECT, CONTACT)
        assert await vault.erase(SUBJECT)
        assert await vault.open(sealed) is None
        assert not await vault.erase(SUBJECT)  # nothing left to destroy

    async def test_details_given_again_after_an_erasure_are_sealed_under_a_new_key_that_opens_only_them(
        self, keys: KeyStore
    ) -> None:
        vault = Vault(keys)
        before = await vault.seal(SUBJECT, CONTACT)
        await vault.erase(SUBJECT)
        again = await vault.seal(SUBJECT, {**CONTACT, "name": "王五"})
        assert await vault.open(again) == {**CONTACT, "name": "王五"}
        assert await vault.open(before) is None  # the new key cannot open what the old one sealed

    async def test_a_subject_erased_before_it_had_a_key_still_gets_one(self, keys: KeyStore) -> None:
        vault = Vault(keys)
        assert not await vault.erase(SUBJECT)
        assert await vault.open(await vault.seal(SUBJECT, CONTACT)) == CONTACT

    async def test_writers_creating_a_key_at_once_end_with_one_key_they_all_use(self, keys: KeyStore) -> None:
        created = await asyncio.gather(*(keys.create_key(SUBJECT) for _ in range(8)))
        assert created[0] is not None and set(created) == {created[0]} == {await keys.key_for(SUBJECT)}

    async def test_writers_creating_a_key_at_once_after_an_erasure_end_with_one_new_key(
        self, keys: KeyStore
    ) -> None:
        old = await keys.create_key(SUBJECT)
        await keys.erase(SUBJECT)
        created = await asyncio.gather(*(keys.create_key(SUBJECT) for _ in range(8)))
        assert created[0] not in (None, old)
        assert set(created) == {created[0]} == {await keys.key_for(SUBJECT)}


class TestMemoryKeyStore(KeyStoreContract):
    @pytest.fixture
    def keys(self) -> KeyStore:
        return MemoryKeyStore()
