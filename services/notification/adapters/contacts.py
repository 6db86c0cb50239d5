"""The contact book: each recipient's addresses sealed under their own key, preferences, masked copies for lists.

Addresses are opened only to send. Erasing a subject destroys its key (shared/crypto/vault.py): this book,
events that carried the sealed contact, and every rebuild of either then read as erased.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable
from datetime import UTC, datetime, time
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notification.application.fanout import Audience
from services.notification.application.intents import ENTERPRISE, kind_of
from services.notification.domain.quiet_hours import Preferences
from shared.crypto.masking import mask_address
from shared.crypto.vault import SUBJECT_KEYS, Vault

CONTACTS = "notification_contacts"
# What sending needs: addresses sealed, as stored, and since when each channel reaches the recipient.
_KEPT_FIELDS = {"sealed": 1, "masked": 1, "preferences": 1, "reachable_since": 1}
ADDRESS_FIELDS = {"email": "email", "sms": "mobile", "wecom": "wecom_user_id", "dingtalk": "dingtalk_user_id"}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _time(text: str | None) -> time | None:
    return time.fromisoformat(text) if text else None


class ContactBook:
    """Contacts in MongoDB, sealed by the vault."""

    def __init__(self, db: AsyncDatabase, vault: Vault) -> None:
        self._c, self._vault = db[CONTACTS], vault
        self._keys = db[SUBJECT_KEYS]
        # For one event only (for_one_event): the contacts it read, so that its notices read each once.
        self._held: dict[str, dict[str, Any]] | None = None

    def for_one_event(self) -> ContactBook:
        """Return the same book keeping what it reads for the length of one event (never longer)."""
        book = copy.copy(self)
        book._held = {}
        return book

    async def hold(self, subjects: Iterable[str]) -> None:
        """Read the contacts of these subjects in one query and keep them (in a book for one event)."""
        await self._read(subjects)

    def _forget(self, subject: str) -> None:
        if self._held is not None:
            self._held.pop(subject, None)

    async def _read(self, subjects: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(dict.fromkeys(subjects))
        held = self._held if self._held is not None else {}
        missing = [s for s in wanted if s not in held]
        if missing:
            query = {"_id": {"$in": missing}}
            found = {d["_id"]: d async for d in self._c.find(query, _KEPT_FIELDS)}
            held.update({s: found.get(s, {}) for s in missing})
        return {s: held[s] for s in wanted}

    async def put(
        self,
        subject: str,
        bureau: str,
        details: dict[str, str],
        prefs: dict[str, Any],
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Keep a recipient's addresses (sealed) and preferences, given at `at`; return the masked view."""
        sealed = await self._vault.seal(subject, details)
        masked = {ch: mask_address(ch, details[f]) for ch, f in ADDRESS_FIELDS.items() if details.get(f)}
        doc: dict[str, Any] = {
            "bureau": bureau,
            "sealed": sealed,
            "masked": masked,
            "preferences": prefs,
            "name": details.get("name"),
        }
        if at is not None:
            before = await self._c.find_one({"_id": subject}, _KEPT_FIELDS)
            doc |= {"given_at": at, "reachable_since": _reachable_since(subject, before, doc, at)}
        await self._c.update_one({"_id": subject}, {"$set": doc}, upsert=True)
        self._forget(subject)
        return {"subject": subject, "addresses": masked, "preferences": prefs}

    async def put_sealed(self, subject: str, bureau: str, sealed: dict[str, str], at: datetime) -> None:
        """Keep a contact that arrived sealed in an event (the enterprise's, given at intake): the latest wins."""
        known = await self._c.find_one({"_id": subject}, {**_KEPT_FIELDS, "given_at": 1})
        if known and known.get("given_at") and _aware(known["given_at"]) >= at:
            return  # a replayed older case: the contact given since stays
        details = await self._vault.open(sealed)
        if details is None:
            return  # erased since: nothing to keep
        masked = {ch: mask_address(ch, details[f]) for ch, f in ADDRESS_FIELDS.items() if details.get(f)}
        given = {"preferences": (known or {}).get("preferences") or {}, "masked": masked}
        # Guarded in the write too: a contact given between the read above and this write is not replaced.
        not_newer = {"_id": subject, "$or": [{"given_at": {"$exists": False}}, {"given_at": {"$lt": at}}]}
        with contextlib.suppress(DuplicateKeyError):  # the upsert met a contact given since: it stands
            await self._c.update_one(
                not_newer,
                {
                    "$set": {
                        "bureau": bureau,
                        "sealed": sealed,
                        "masked": masked,
                        "name": details.get("name"),
                        "given_at": at,
                        "reachable_since": _reachable_since(subject, known, given, at),
                    },
                    "$setOnInsert": {"preferences": {}},
                },
                upsert=True,
            )
        self._forget(subject)

    async def masked(self, subject: str) -> dict[str, Any] | None:
        """Return the masked view of a contact, or None."""
        doc = await self._c.find_one({"_id": subject})
        if doc is None:
            return None
        return {
            "subject": subject,
            "addresses": doc.get("masked", {}),
            "preferences": doc.get("preferences", {}),
        }

    async def erase(self, subject: str) -> bool:
        """Destroy the subject's key and this book's copy; True when there was something to erase."""
        destroyed = await self._vault.erase(subject)
        removed = await self._c.delete_one({"_id": subject})
        self._forget(subject)
        return destroyed or removed.deleted_count > 0

    async def address(self, recipient: str, channel: str) -> str | None:
        """Return the recipient's address on a channel (the inbox needs none: it is the recipient id)."""
        if channel == "inbox":
            return recipient
        return await self.first_address(recipient, (channel,))

    async def first_address(self, subject: str, channels: tuple[str, ...]) -> str | None:
        """Return the subject's address on the first of the channels it gave one for (one read)."""
        doc = (await self._read([subject]))[subject]
        details = await self._vault.open(doc["sealed"]) if doc.get("sealed") else None
        found = (details.get(ADDRESS_FIELDS.get(channel, "")) for channel in channels) if details else ()
        return next((address for address in found if address), None)

    async def erased(self, subject: str) -> bool:
        """Tell whether the subject was erased (its key destroyed, and no contact given again since)."""
        # The vault's port answers "no key" alike for erased and never given; an erasure leaves its tombstone
        # (key None) in the key store's collection, and a contact given again replaces it with a new key.
        return await self._keys.find_one({"_id": subject, "key": None}, {"_id": 1}) is not None

    async def masked_addresses(self, subjects: Iterable[str]) -> dict[str, dict[str, str]]:
        """Return the masked addresses of these subjects by channel, read in one query (none: left out)."""
        wanted = list(dict.fromkeys(subjects))
        if not wanted:
            return {}
        found = self._c.find({"_id": {"$in": wanted}}, {"masked": 1})
        return {d["_id"]: d["masked"] async for d in found if d.get("masked")}

    async def audiences(self, recipients: Iterable[str]) -> dict[str, Audience]:
        """Return each recipient's preferences, read in one query whatever their number."""
        docs = await self._read(recipients)
        return {recipient: _audience(recipient, doc) for recipient, doc in docs.items()}


def _audience(recipient: str, doc: dict[str, Any]) -> Audience:
    prefs = doc.get("preferences") or {}
    since = {ch: _aware(at) for ch, at in (doc.get("reachable_since") or {}).items()}
    language = prefs.get("language", "zh-CN")
    if kind_of(recipient) == ENTERPRISE:
        return Audience(Preferences(_channels(recipient, doc), None, None), language, since)
    quiet = Preferences(
        channels=_channels(recipient, doc),
        quiet_start=_time(prefs.get("quiet_start", "21:00")),
        quiet_end=_time(prefs.get("quiet_end", "08:00")),
    )
    return Audience(quiet, language, since)


def _channels(recipient: str, doc: dict[str, Any]) -> tuple[str, ...]:
    # Enterprises are told on every channel they gave an address for; staff as their preferences say.
    given = tuple(doc.get("masked", {}))
    if kind_of(recipient) == ENTERPRISE:
        return given
    return tuple((doc.get("preferences") or {}).get("channels") or ("inbox", *given))


def _reachable_since(
    subject: str, before: dict[str, Any] | None, after: dict[str, Any], at: datetime
) -> dict[str, datetime]:
    """Return since when each channel reaches the subject: kept for one that reached them before, `at` for a
    new one. An event from before that moment tells nobody on it, so a replay (a broker that lost its
    topics, a new consumer group) never tells anyone of old events on a channel added since."""
    known = dict((before or {}).get("reachable_since") or {})
    was = set(_channels(subject, before)) if before else set()
    since: dict[str, datetime] = {}
    for channel in _channels(subject, after):
        if channel == "inbox":
            continue  # always on: every event reaches the inbox
        if channel not in was:
            since[channel] = at
        elif channel in known:
            since[channel] = known[channel]
        # else: it reached them before this was tracked, and counts as always
    return since
