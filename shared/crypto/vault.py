"""Personal data encrypted with one key per person or enterprise (crypto-shredding).

Events are immutable, so personal data in them cannot be deleted; it is stored encrypted under its subject's
key, and erasing the subject destroys the key: every copy (event store, projections, rebuilds, backups of
them) then reads as erased. Keys live in the platform's `subject_keys` collection, like API keys.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

SUBJECT_KEYS = "subject_keys"
ERASED = "[erased]"


class KeyStore(Protocol):
    """Port: a subject's key, created on first use, gone for good once erased."""

    async def key_for(self, subject: str) -> bytes | None:
        """Return the subject's key, or None when erased or never created."""
        ...

    async def create_key(self, subject: str) -> bytes | None:
        """Return the subject's key, creating it (again, after an erasure) if needed."""
        ...

    async def erase(self, subject: str) -> bool:
        """Destroy the subject's key for good; False when there was none."""
        ...


class MongoKeyStore:
    """Subject keys in MongoDB. Erasing destroys the key; contact details given again later get a new key,
    which cannot open anything sealed under the destroyed one (AES-GCM authenticates)."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._keys = db[SUBJECT_KEYS]

    async def key_for(self, subject: str) -> bytes | None:
        """Return the subject's key, or None when erased or never created."""
        doc = await self._keys.find_one({"_id": subject})
        return bytes(doc["key"]) if doc and doc.get("key") is not None else None

    async def create_key(self, subject: str) -> bytes | None:
        """Return the subject's key, creating it (again, after an erasure) if needed."""
        key = await self.key_for(subject)
        if key is not None:
            return key
        fresh = {"key": AESGCM.generate_key(256), "created_at": datetime.now(UTC)}
        try:
            await self._keys.insert_one({"_id": subject, **fresh})
        except DuplicateKeyError:
            # Known already: a live key (another writer's, use theirs) or an erasure's tombstone. Only a
            # tombstone is replaced, in one conditional write, so two writers at once end with one key.
            await self._keys.update_one({"_id": subject, "key": None}, {"$set": fresh})
        return await self.key_for(subject)

    async def erase(self, subject: str) -> bool:
        """Destroy the subject's key for good; False when there was none."""
        result = await self._keys.update_one(
            {"_id": subject, "key": {"$ne": None}}, {"$set": {"key": None, "erased_at": datetime.now(UTC)}}
        )
        if result.matched_count == 0:
            await self._keys.update_one(
                {"_id": subject}, {"$setOnInsert": {"key": None, "erased_at": datetime.now(UTC)}}, upsert=True
            )
        return result.matched_count > 0


class MemoryKeyStore:
    """The same contract in memory, for unit tests."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes | None] = {}

    async def key_for(self, subject: str) -> bytes | None:
        """Return the subject's key, or None when erased or never created."""
        return self._keys.get(subject)

    async def create_key(self, subject: str) -> bytes | None:
        """Return the subject's key, creating it (again, after an erasure) if needed."""
        if self._keys.get(subject) is None:
            self._keys[subject] = AESGCM.generate_key(256)
        return self._keys[subject]

    async def erase(self, subject: str) -> bool:
        """Destroy the subject's key for good; False when there was none."""
        had = self._keys.get(subject) is not None
        self._keys[subject] = None
        return had


class SubjectErased(Exception):
    """The subject's key is gone: nothing can be encrypted for it any more."""


class Vault:
    """Seals and opens personal data under its subject's key."""

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys

    async def seal(self, subject: str, fields: Mapping[str, Any]) -> dict[str, str]:
        """Return the fields encrypted under the subject's key (the subject id is bound as associated data)."""
        key = await self._keys.create_key(subject)
        if key is None:
            raise SubjectErased(subject)
        nonce = os.urandom(12)
        plain = json.dumps(dict(fields), ensure_ascii=False, sort_keys=True).encode()
        sealed = AESGCM(key).encrypt(nonce, plain, subject.encode())
        return {"subject": subject, "nonce": _b64(nonce), "ciphertext": _b64(sealed)}

    async def open(self, sealed: Mapping[str, str]) -> dict[str, Any] | None:
        """Return the fields, or None when the subject was erased (or the data does not belong to it)."""
        key = await self._keys.key_for(sealed["subject"])
        if key is None:
            return None
        try:
            plain = AESGCM(key).decrypt(
                base64.b64decode(sealed["nonce"]),
                base64.b64decode(sealed["ciphertext"]),
                sealed["subject"].encode(),
            )
        except (InvalidTag, ValueError, KeyError):
            return None
        return dict(json.loads(plain))

    async def erase(self, subject: str) -> bool:
        """Erase a subject: its sealed data anywhere reads as erased from now on."""
        return await self._keys.erase(subject)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
