"""Which disbursement of a bureau a bank reference (银行流水号) was credited to: the first to claim it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.disbursement.domain.references import reference_key

BANK_REFERENCES = "disbursement_bank_references"
# Claims are keyed by reference_key; a change of that function bumps KEY_VERSION so that the next start re-keys
# the claims once (KEYED_MARK, never a claim id: those hold a line break).
KEYED_MARK, KEY_VERSION = "claims-keyed", 2


def claim_id(bureau: str, reference: str) -> str:
    """Return the claim's key: a reference (by reference_key) is unique within a bureau, not across bureaus."""
    # By the key, not as typed: `br-1` or `ＢＲ-1` claims what `BR-1` holds. A line break is never part of a
    # bureau id or of a (one-line) reference's key.
    return f"{bureau}\n{reference_key(reference)}"


class BankReferences(Protocol):
    """Port: claim a bank reference for a disbursement; two disbursements of a bureau never share one."""

    async def claim(self, bureau: str, reference: str, disbursement_id: str) -> tuple[str, bool]:
        """Claim the reference unless another disbursement holds it; return the holder and whether it is new."""
        ...

    async def release(self, bureau: str, reference: str, disbursement_id: str) -> None:
        """Give up the disbursement's claim (made for a payment that was then refused)."""
        ...

    async def take_over(
        self, bureau: str, reference: str, holder: str, disbursement_id: str, older_than: timedelta
    ) -> bool:
        """Move a claim the holder made longer ago than `older_than` to the disbursement; True when it moved."""
        ...


class MongoBankReferences:
    """Claims in a collection owned by the disbursement service (`_id` = bureau + reference: race-free)."""

    def __init__(self, collection: AsyncCollection) -> None:
        self._collection = collection

    async def claim(self, bureau: str, reference: str, disbursement_id: str) -> tuple[str, bool]:
        """Insert the claim; a duplicate key means a disbursement holds it already, so read which."""
        key = claim_id(bureau, reference)
        try:
            await self._collection.insert_one(
                {"_id": key, "disbursement_id": disbursement_id, "at": datetime.now(UTC)}
            )
            return disbursement_id, True
        except DuplicateKeyError:
            held = await self._collection.find_one({"_id": key})
            if held is None:  # released meanwhile: claim it again
                return await self.claim(bureau, reference, disbursement_id)
            return str(held["disbursement_id"]), False

    async def release(self, bureau: str, reference: str, disbursement_id: str) -> None:
        """Delete the claim if the disbursement holds it."""
        await self._collection.delete_one(
            {"_id": claim_id(bureau, reference), "disbursement_id": disbursement_id}
        )

    async def take_over(
        self, bureau: str, reference: str, holder: str, disbursement_id: str, older_than: timedelta
    ) -> bool:
        """Move the claim only if that holder still has it and made it long enough ago (compare-and-set)."""
        now = datetime.now(UTC)
        moved = await self._collection.update_one(
            {"_id": claim_id(bureau, reference), "disbursement_id": holder, "at": {"$lt": now - older_than}},
            {"$set": {"disbursement_id": disbursement_id, "at": now}},
        )
        return moved.modified_count == 1

    async def key_claims_made_before_reference_keys(self) -> int:
        """Re-key claims keyed by the reference as typed (before reference_key) by its key; return how many."""
        # Claims of the first version with claims were keyed by the reference as typed: `BR-1` kept there would
        # not be found by the key of `BR-1` (`br-1`), and a second disbursement could credit it. Run at start;
        # claims keyed already are skipped, so it is cheap to repeat and harmless when instances race.
        if await self._collection.find_one({"_id": KEYED_MARK, "version": KEY_VERSION}):
            return 0  # keyed by this version already: no scan of every claim at each start
        moved = 0
        async for held in self._collection.find({}):
            bureau, newline, reference = str(held["_id"]).partition("\n")
            key = claim_id(bureau, reference)
            if not newline or key == held["_id"]:
                continue  # the mark, or a claim keyed already
            try:
                await self._collection.insert_one({**held, "_id": key})
            except DuplicateKeyError:
                pass  # two spellings of one transfer were claimed before: the one keyed first keeps it
            await self._collection.delete_one({"_id": held["_id"]})
            moved += 1
        await self._collection.update_one(
            {"_id": KEYED_MARK}, {"$set": {"version": KEY_VERSION}}, upsert=True
        )
        return moved


class MemoryBankReferences:
    """The same claims in a dict, for unit tests."""

    def __init__(self) -> None:
        self._holders: dict[str, tuple[str, datetime]] = {}

    async def claim(self, bureau: str, reference: str, disbursement_id: str) -> tuple[str, bool]:
        """Claim the reference unless another disbursement holds it; return the holder and whether it is new."""
        key = claim_id(bureau, reference)
        new = key not in self._holders
        if new:
            self._holders[key] = disbursement_id, datetime.now(UTC)
        return self._holders[key][0], new

    async def release(self, bureau: str, reference: str, disbursement_id: str) -> None:
        """Delete the claim if the disbursement holds it."""
        key = claim_id(bureau, reference)
        if self._holders.get(key, ("", None))[0] == disbursement_id:
            del self._holders[key]

    async def take_over(
        self, bureau: str, reference: str, holder: str, disbursement_id: str, older_than: timedelta
    ) -> bool:
        """Move the claim only if that holder still has it and made it long enough ago."""
        key, now = claim_id(bureau, reference), datetime.now(UTC)
        held = self._holders.get(key)
        if held is None or held[0] != holder or now - held[1] <= older_than:
            return False
        self._holders[key] = disbursement_id, now
        return True
