"""Failed sign-in counting and lockout, safe against concurrent guesses and the same for unknown usernames.

Two counters limit each attempt:

- per (bureau, username, client address), in `sign_in_attempts`: 5 free failures, then 30 s doubling up to
  15 minutes. This is the lock a guesser meets, and it only shuts out the address guessing.
- per username from every address (on the account itself, or in `sign_in_attempts` for a username that has
  no account, so both answer alike): 20 free failures, then 30 s doubling up to 5 minutes, against guessing
  spread over many addresses. An address the person signed in from (successfully, within 30 days) is not
  held by it, so an attacker elsewhere cannot shut the person out.

Why an attempt is counted before the password is checked (and forgotten on success): the check takes a tenth
of a second, and counting afterwards let any number of concurrent guesses be checked before the lock was set.
A counter is taken by compare-and-set on its count, and the attempt that reaches the limit sets the lock in
that same write, so at most the free attempts are checked before the lock, whatever the concurrency."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.auth.tokens import aware

SIGN_IN_ATTEMPTS = "sign_in_attempts"
FREE_ATTEMPTS = 5  # failures from one address before the first lock
FIRST_LOCK = timedelta(seconds=30)  # doubled with every further failure
LONGEST_LOCK = timedelta(minutes=15)  # of one address
ACCOUNT_FREE_ATTEMPTS = 20  # failures from every address together before the account-wide lock
LONGEST_ACCOUNT_LOCK = timedelta(minutes=5)  # short: an attacker can cause it
TRUSTED_FOR = timedelta(days=30)  # an address the person signed in from skips the account-wide lock
REMEMBERED_FOR = timedelta(days=1)  # an address's failures are forgotten a day after its last lock
_TRIES = 20  # compare-and-set rounds before a busy counter answers "locked" for a second


class AttemptsLocked(Exception):
    """Too many failures: no attempt is checked for `wait_s` seconds."""

    def __init__(self, wait_s: int) -> None:
        super().__init__(f"locked for {wait_s} s")
        self.wait_s = wait_s


def lock_after(
    failures: int, free: int = FREE_ATTEMPTS, longest: timedelta = LONGEST_LOCK
) -> timedelta | None:
    """How long a counter locks after this many failures in a row (None: not locked yet)."""
    if failures < free:
        return None
    return min(FIRST_LOCK * 2 ** min(failures - free, 30), longest)


@dataclass(frozen=True)
class _Counter:
    collection: Any
    id: str
    free: int
    longest: timedelta
    fields: dict[str, Any]  # written on an attempts document (bureau, username: for clearing)


@dataclass(frozen=True)
class Reservation:
    """The counters an attempt took; the attempt counts as a failure unless `succeeded` is called."""

    address: _Counter
    taken: tuple[tuple[_Counter, int, Any], ...]  # counter, count after, lock before


class SignInAttempts:
    """Counts failed sign-ins (and enrolment password checks) per address and per username."""

    def __init__(self, db: Any, accounts: Any, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._attempts, self._accounts, self._clock = db[SIGN_IN_ATTEMPTS], accounts, clock

    async def reserve(
        self, bureau: str, username: str, address: str, account: dict[str, Any] | None
    ) -> Reservation:
        """Count an attempt before it is checked; AttemptsLocked when a counter is locked."""
        now = self._clock()
        fields = {"bureau": bureau, "username": username}
        by_address = _Counter(
            self._attempts, f"{bureau}/{username}/{address}", FREE_ATTEMPTS, LONGEST_LOCK, fields
        )
        counters = [by_address]
        mine = await self._attempts.find_one({"_id": by_address.id}) or {}
        if not _after(now, mine.get("trusted_until")):
            everywhere = account["_id"] if account is not None else f"{bureau}/{username}/*"
            where = self._accounts if account is not None else self._attempts
            counters.append(
                _Counter(
                    where,
                    everywhere,
                    ACCOUNT_FREE_ATTEMPTS,
                    LONGEST_ACCOUNT_LOCK,
                    fields if account is None else {},
                )
            )
        taken: list[tuple[_Counter, int, Any]] = []
        for counter in counters:
            try:
                taken.append(await self._take(counter, now))
            except AttemptsLocked:
                for done in taken:
                    await self._give_back(*done)
                raise
        return Reservation(by_address, tuple(taken))

    async def succeeded(self, reservation: Reservation) -> None:
        """The attempt was right: clear its counters and trust its address for the account-wide lock."""
        now = self._clock()
        for counter, _, _ in reservation.taken:
            await counter.collection.update_one(
                {"_id": counter.id}, {"$set": {"failed_attempts": 0, "locked_until": None}}
            )
        await self._attempts.update_one(
            {"_id": reservation.address.id},
            {
                "$set": {**reservation.address.fields, "trusted_until": now + TRUSTED_FOR},
                "$max": {"expires_at": now + TRUSTED_FOR},
            },
            upsert=True,
        )

    async def clear(self, bureau: str, username: str) -> None:
        """Forget every address's failures for a username (a bureau admin's reset or enable)."""
        await self._attempts.update_many(
            {"bureau": bureau, "username": username}, {"$set": {"failed_attempts": 0, "locked_until": None}}
        )

    async def _take(self, counter: _Counter, now: datetime) -> tuple[_Counter, int, Any]:
        for _ in range(_TRIES):
            doc = await counter.collection.find_one({"_id": counter.id})
            if doc is not None and _after(now, doc.get("locked_until")):
                raise AttemptsLocked(_wait(now, doc["locked_until"]))
            count = (doc or {}).get("failed_attempts")
            lock = lock_after((count or 0) + 1, counter.free, counter.longest)
            changes: dict[str, Any] = {"locked_until": now + lock} if lock else {}
            expires = now + (lock or timedelta()) + REMEMBERED_FOR
            if doc is None:
                if counter.collection is self._accounts:
                    break  # the account went away meanwhile: nothing to count on it
                try:  # a concurrent first attempt inserts it too: one wins, the other counts again
                    await counter.collection.insert_one(
                        {
                            "_id": counter.id,
                            **counter.fields,
                            "failed_attempts": 1,
                            "locked_until": None,
                            **changes,
                            "expires_at": expires,
                        }
                    )
                    return counter, 1, None
                except DuplicateKeyError:
                    continue
            update: dict[str, Any] = {"$inc": {"failed_attempts": 1}}
            if changes or counter.fields:
                update["$set"] = {**counter.fields, **changes}
            if counter.collection is self._attempts:
                update["$max"] = {"expires_at": expires}
            after = await counter.collection.find_one_and_update(
                {"_id": counter.id, "failed_attempts": count}, update, return_document=ReturnDocument.AFTER
            )
            if after is not None:  # nobody counted in between: this attempt holds number `count + 1`
                return counter, int(after["failed_attempts"]), doc.get("locked_until")
        raise AttemptsLocked(1)

    async def _give_back(self, counter: _Counter, count: int, lock_before: Any) -> None:
        # Only when nothing counted since: otherwise the attempt stays counted, which errs on the safe side.
        await counter.collection.update_one(
            {"_id": counter.id, "failed_attempts": count},
            {"$inc": {"failed_attempts": -1}, "$set": {"locked_until": lock_before}},
        )


async def ensure_sign_in_indexes(db: Any) -> None:
    """Create the indexes sign-in counting and unique usernames rely on (MongoDB)."""
    # Usernames are unique regardless of case; accounts made before the field are checked by reading.
    await db["accounts"].create_index(
        [("bureau", 1), ("username_folded", 1)],
        unique=True,
        partialFilterExpression={"username_folded": {"$type": "string"}},
    )
    # Counters of addresses and unknown usernames go a day after their last lock, a trusted address after
    # 30 days: the collection stays bounded by what the gateway's rate limit lets in per day.
    await db[SIGN_IN_ATTEMPTS].create_index("expires_at", expireAfterSeconds=0)
    await db[SIGN_IN_ATTEMPTS].create_index([("bureau", 1), ("username", 1)])  # an admin's reset


def _after(now: datetime, moment: Any) -> bool:
    stored = aware(moment) if isinstance(moment, datetime) else None
    return stored is not None and stored > now


def _wait(now: datetime, until: datetime) -> int:
    return max(1, math.ceil(((aware(until) or now) - now).total_seconds()))
