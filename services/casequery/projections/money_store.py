"""Where the case's money is kept: the `case_money` collection, and an in-memory store for tests with fakes.

Every write is guarded by the disbursement stream's version, so the live consumer and a rebuild's catch-up may
write the same disbursement in any order and it still ends at the newest version.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from pymongo import ASCENDING, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.casequery.projections.case_view import ViewWriteRaced
from services.casequery.projections.generations import ReadModel, read_model
from services.casequery.projections.money import DISBURSEMENT_STREAM, Money, fold_money
from shared.bulk_writes import insert_new
from shared.contracts.envelope import EventEnvelope


class CaseMoney(Protocol):
    """The disbursements linked to cases, as the consumer writes them and the read API reads them."""

    async def apply(self, envelope: EventEnvelope, session: AsyncClientSession | None = None) -> None:
        """Fold one disbursement event into its document."""
        ...

    async def apply_batch(self, envelopes: Iterable[EventEnvelope]) -> None:
        """Fold a batch of events in order; events of other streams are skipped."""
        ...

    async def of_case(self, bureau: str, case_id: str) -> list[Money]:
        """Return the documents of the disbursements linked to the bureau's case, oldest first."""
        ...


async def ensure_money_indexes(collection: AsyncCollection) -> None:
    """The case reads its disbursements by case id, always with the bureau."""
    await collection.create_index([("case_id", ASCENDING), ("bureau", ASCENDING)])


def _newer_than_stored(doc: Money) -> dict[str, Any]:
    return {"_id": doc["_id"], "version": {"$lt": doc["version"]}}


def _opening(doc: Money) -> tuple[Any, str]:
    return doc["entry"]["opened_at"], str(doc["_id"])


class MongoCaseMoney:
    """The case_money collection (its current generation, resolved once per call)."""

    def __init__(self, collection: AsyncCollection | ReadModel) -> None:
        self._model = read_model(collection)

    async def apply(self, envelope: EventEnvelope, session: AsyncClientSession | None = None) -> None:
        """Fold one event; older versions and disbursements not linked to a case leave nothing."""
        if envelope.stream_type != DISBURSEMENT_STREAM:
            return
        collection = await self._model.collection()
        current = await collection.find_one({"_id": envelope.data.get("disbursement_id")}, session=session)
        updated = fold_money(current, envelope)
        if updated is None or updated is current:
            return
        if current is not None:
            await collection.replace_one(_newer_than_stored(updated), updated, session=session)
            return
        try:
            await collection.insert_one(updated, session=session)
        except DuplicateKeyError:
            if session is not None and session.in_transaction:
                # A write error aborts the transaction and its dedupe marker: retry the whole message.
                raise ViewWriteRaced(envelope.stream_id, 0) from None
            await collection.replace_one(_newer_than_stored(updated), updated)

    async def apply_batch(self, envelopes: Iterable[EventEnvelope]) -> None:
        """Fold a page of events in global order, one write per disbursement (used by rebuild)."""
        envelopes = [e for e in envelopes if e.stream_type == DISBURSEMENT_STREAM]
        if not envelopes:
            return  # most pages of a replay hold no disbursement event: resolve nothing
        collection = await self._model.collection()
        loaded: dict[str, Money | None] = {}
        folded: dict[str, Money] = {}
        for envelope in envelopes:
            key = str(envelope.data.get("disbursement_id"))
            if key not in loaded:  # version 1 is the opening: nothing stored yet, no read
                loaded[key] = None if envelope.version == 1 else await collection.find_one({"_id": key})
            doc = folded.get(key) or loaded[key]
            updated = fold_money(doc, envelope)
            if updated is not None and updated is not doc:
                folded[key] = updated
        fresh = [doc for key, doc in folded.items() if loaded[key] is None]
        writes = [ReplaceOne(_newer_than_stored(d), d) for k, d in folded.items() if loaded[k] is not None]
        writes += [ReplaceOne(_newer_than_stored(d), d) for d in await _insert(collection, fresh)]
        if writes:
            await collection.bulk_write(writes, ordered=False)

    async def of_case(self, bureau: str, case_id: str) -> list[Money]:
        """Return the bureau's disbursements linked to the case, oldest first."""
        collection = await self._model.collection()
        cursor = collection.find({"case_id": case_id, "bureau": bureau})
        return sorted([doc async for doc in cursor], key=_opening)


async def _insert(collection: AsyncCollection, docs: list[Money]) -> list[Money]:
    """Insert new documents; return those another writer created meanwhile (to replace if older)."""
    return await insert_new(collection, docs)


class InMemoryCaseMoney:
    """The same fold and version guard over a dict (the app's fakes; no MongoDB)."""

    def __init__(self) -> None:
        self.docs: dict[str, Money] = {}

    async def apply(self, envelope: EventEnvelope, session: AsyncClientSession | None = None) -> None:
        """Fold one event into its document."""
        key = str(envelope.data.get("disbursement_id"))
        updated = fold_money(self.docs.get(key), envelope)
        if updated is not None:
            self.docs[key] = updated

    async def apply_batch(self, envelopes: Iterable[EventEnvelope]) -> None:
        """Fold a batch of events in order."""
        for envelope in envelopes:
            if envelope.stream_type == DISBURSEMENT_STREAM:
                await self.apply(envelope)

    async def of_case(self, bureau: str, case_id: str) -> list[Money]:
        """Return the bureau's disbursements linked to the case."""
        found = [d for d in self.docs.values() if d["case_id"] == case_id and d["bureau"] == bureau]
        return sorted(found, key=_opening)
