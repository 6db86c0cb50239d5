"""The API-key cache stays bounded and forgets misses; ids that enter from outside follow the Identifier pattern."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.auth.__main__ import _bureau
from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, hash_key
from shared.contracts.intake import IntakeRequestV1
from tests.support import case_body


class FakeCollection:
    """Just enough of a collection: find_one by _id, update_one with upsert; counts the reads."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.reads = 0

    async def find_one(self, query: dict[str, Any], *args: Any) -> dict[str, Any] | None:
        self.reads += 1
        doc = self.docs.get(query["_id"])
        return doc if doc and all(doc.get(k) == v for k, v in query.items()) else None

    async def update_one(self, query: dict[str, Any], update: dict[str, Any], upsert: bool) -> None:
        self.docs.setdefault(query["_id"], {"_id": query["_id"]}).update(update["$set"])


class FakeDb(dict):
    def __missing__(self, name: str) -> FakeCollection:
        self[name] = FakeCollection()
        return self[name]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def store_with_keys(n: int, **options: Any) -> tuple[ApiKeyStore, FakeCollection]:
    db = FakeDb()
    for i in range(n):
        digest = hash_key(f"key-{i}")
        db["api_keys"].docs[digest] = {
            "_id": digest,
            "key_id": digest[:12],
            "bureau": "finance",
            "role": "staff",
            "revoked": False,
        }
    return ApiKeyStore(db, **options), db["api_keys"]  # type: ignore[arg-type]


async def test_unknown_tokens_are_not_remembered_so_random_tokens_cannot_grow_the_cache() -> None:
    store, keys = store_with_keys(1)
    for i in range(1000):
        assert await store.authenticate(f"random-{i}") is None
    assert store.cached_keys() == 0
    assert await store.authenticate("random-1") is None and keys.reads == 1001  # a miss is asked again


async def test_a_key_issued_after_a_miss_works_at_once() -> None:
    store, keys = store_with_keys(0)
    assert await store.authenticate("key-0") is None
    digest = hash_key("key-0")
    keys.docs[digest] = {"_id": digest, "key_id": "k", "bureau": "finance", "role": "staff", "revoked": False}
    principal = await store.authenticate("key-0")
    assert principal is not None and principal.bureau == "finance"


async def test_the_cache_keeps_at_most_its_size_dropping_the_least_recently_used() -> None:
    store, keys = store_with_keys(5, cache_size=3)
    for i in range(5):
        await store.authenticate(f"key-{i}")
    assert store.cached_keys() == 3
    reads = keys.reads
    await store.authenticate("key-4")  # recent: from the cache
    assert keys.reads == reads
    await store.authenticate("key-0")  # dropped: read again
    assert keys.reads == reads + 1


async def test_a_cached_key_is_read_again_after_its_ttl_so_a_revocation_takes_effect() -> None:
    clock = Clock()
    store, keys = store_with_keys(1, cache_seconds=30, clock=clock)
    assert await store.authenticate("key-0") is not None
    keys.docs[hash_key("key-0")]["revoked"] = True
    clock.now = 10
    assert await store.authenticate("key-0") is not None  # still cached
    clock.now = 31
    assert await store.authenticate("key-0") is None
    assert store.cached_keys() == 0


@pytest.mark.parametrize("bureau_id", ["fin:ance", "", "-finance", "a" * 65, "财政", "fin ance", "fin\nance"])
def test_a_bureau_id_outside_the_identifier_pattern_is_refused(bureau_id: str) -> None:
    with pytest.raises(ValidationError):
        Bureau(id=bureau_id, name_zh="财政金融局", name_en="Finance")


async def test_the_directory_refuses_a_bureau_built_without_validation() -> None:
    directory = BureauDirectory(FakeDb())  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        await directory.register(Bureau.model_construct(id="a:b", name_zh="局", name_en="Bureau"))
    await directory.register(Bureau(id="finance_2", name_zh="财政金融局", name_en="Finance"))
    assert await directory.exists("finance_2")


def test_the_command_line_refuses_a_bad_bureau_id_with_the_reason() -> None:
    class Args:
        id, name_zh, name_en = "fin:ance", "财政金融局", "Finance"

    with pytest.raises(SystemExit, match="refused: id"):
        _bureau(Args())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("bureau", "fin:ance"),
        ("bureau", "finance\x00"),
        ("request_id", "a:b"),
        ("request_id", ""),
        ("bureau", 7),
    ],
)
def test_a_kafka_request_with_an_id_outside_the_identifier_pattern_is_refused(field: str, value: Any) -> None:
    body = {**case_body(1), "request_id": "req-1", "bureau": "finance", field: value}
    with pytest.raises(ValidationError) as refused:
        IntakeRequestV1.model_validate(body)
    assert refused.value.errors()[0]["loc"] == (field,)
