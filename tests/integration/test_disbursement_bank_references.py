"""The bank reference claims port: the in-memory fake and the MongoDB adapter behave alike."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.disbursement.adapters.bank_references import (
    BANK_REFERENCES,
    BankReferences,
    MemoryBankReferences,
    MongoBankReferences,
)

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "mongo"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def claims_of(kind: str, db: AsyncDatabase) -> BankReferences:
    return MemoryBankReferences() if kind == "memory" else MongoBankReferences(db[BANK_REFERENCES])


async def test_a_reference_is_held_by_the_first_disbursement_of_its_bureau_that_claims_it(
    kind: str, mongo_db: AsyncDatabase
) -> None:
    claims = claims_of(kind, mongo_db)
    results = await asyncio.gather(*(claims.claim("finance", "ICBC-1", d) for d in ("d1", "d2") * 3))
    assert len({holder for holder, _ in results}) == 1 and [new for _, new in results].count(True) == 1
    holder = results[0][0]
    assert await claims.claim("finance", "ICBC-1", holder) == (holder, False)
    assert await claims.claim("innovation", "ICBC-1", "d9") == ("d9", True)  # per bureau
    await claims.release("finance", "ICBC-1", "d3")  # not its claim: nothing changes
    assert (await claims.claim("finance", "ICBC-1", "d3"))[0] == holder
    await claims.release("finance", "ICBC-1", holder)
    assert await claims.claim("finance", "ICBC-1", "d3") == ("d3", True)


async def test_a_claim_passes_on_only_from_its_holder_and_only_when_old(
    kind: str, mongo_db: AsyncDatabase
) -> None:
    claims = claims_of(kind, mongo_db)
    await claims.claim("finance", "ICBC-2", "d1")
    assert not await claims.take_over("finance", "ICBC-2", "d1", "d2", timedelta(minutes=2))  # too fresh
    assert not await claims.take_over(
        "finance", "ICBC-2", "d7", "d2", timedelta(seconds=-1)
    )  # not the holder
    moves = await asyncio.gather(
        *(claims.take_over("finance", "ICBC-2", "d1", d, timedelta(seconds=-1)) for d in ("d2", "d3"))
    )
    assert moves.count(True) == 1  # compare-and-set: one taker
    winner = ("d2", "d3")[moves.index(True)]
    assert await claims.claim("finance", "ICBC-2", "d4") == (winner, False)


async def test_a_reference_spelled_another_way_claims_what_its_first_spelling_holds(
    kind: str, mongo_db: AsyncDatabase
) -> None:
    # Case, a zero-width space, full width, a hyphen (U+2010), an en dash: one transfer (reference_key).
    claims = claims_of(kind, mongo_db)
    assert await claims.claim("finance", "BR-1", "d1") == ("d1", True)
    for respelled in ("br-1", "BR-1\u200b", "ＢＲ-1", "BR\u20101", "BR\u20131"):
        assert await claims.claim("finance", respelled, "d2") == ("d1", False), ascii(respelled)
    assert not await claims.take_over("finance", "ｂｒ-1", "d1", "d2", timedelta(minutes=2))
    await claims.release("finance", "br\u22121", "d1")  # released by any spelling of it
    assert await claims.claim("finance", "BR-1\ufeff", "d2") == ("d2", True)
    assert await claims.take_over("finance", "Br-1", "d2", "d3", timedelta(seconds=-1))
    assert await claims.claim("finance", "BR-1", "d4") == ("d3", False)


async def test_claims_keyed_as_typed_by_the_first_version_are_re_keyed_and_still_hold(
    mongo_db: AsyncDatabase,
) -> None:
    collection = mongo_db[BANK_REFERENCES]
    await collection.insert_many(
        [
            {"_id": "finance\nBR-7", "disbursement_id": "d1", "at": datetime.now(UTC)},
            {"_id": "finance\nBR\u20137", "disbursement_id": "d2", "at": datetime.now(UTC)},  # both claimed
            {"_id": "finance\nicbc-8", "disbursement_id": "d3", "at": datetime.now(UTC)},  # keyed already
        ]
    )
    claims = MongoBankReferences(collection)
    assert await claims.key_claims_made_before_reference_keys() == 2
    assert await claims.key_claims_made_before_reference_keys() == 0  # repeated at every start: marked done
    assert (await claims.claim("finance", "br-7", "d9"))[1] is False
    assert await claims.claim("finance", "ICBC-8", "d9") == ("d3", False)
    assert sorted(d["_id"] for d in await collection.find({}).to_list()) == [
        "claims-keyed",
        "finance\nbr-7",
        "finance\nicbc-8",
    ]
