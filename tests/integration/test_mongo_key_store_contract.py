"""MongoKeyStore passes the KeyStore contract on a real SecantusDB.

The contract: tests/contract/test_key_store_contract.py."""

from __future__ import annotations

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.crypto.vault import KeyStore, MongoKeyStore
from tests.contract.test_key_store_contract import KeyStoreContract

pytestmark = pytest.mark.integration


class TestMongoKeyStore(KeyStoreContract):
    @pytest.fixture
    def keys(self, mongo_db: AsyncDatabase) -> KeyStore:
        return MongoKeyStore(mongo_db)
