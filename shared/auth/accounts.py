"""Accounts of roster people: who may sign in, with which password, second factor and role.

An account belongs to one person of one bureau's roster (its _id is `bureau:staff_id`); its name, post and
section follow the roster (see `follow_roster`), and a person who leaves the bureau loses the account. Accounts
are credentials, like API keys, so they live in a collection and not on the event streams."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from shared.auth import totp
from shared.auth.attempts import SignInAttempts
from shared.auth.keys import Role
from shared.auth.passwords import Passwords, generate_password
from shared.auth.tokens import TokenStore, needs_second_factor

ACCOUNTS = "accounts"
TOKEN_EPOCH = "token_epoch"  # moved by every change that revokes or rewrites the account's tokens
LEFT = "离开本局 (left the bureau)"  # the disable reason a departure sets
ACCOUNT_ROLES = (Role.STAFF, Role.ADMIN, Role.VIEWER)  # admin: the bureau admin (roster and accounts)


class AccountRefused(Exception):
    """The account change cannot be made; `status` is the HTTP answer and the message says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class RosterPerson:
    """A person as the bureau's roster has them now."""

    bureau: str
    staff_id: str
    name: str
    post: str
    section: str
    departed: bool = False


@dataclass(frozen=True)
class NewAccount:
    """What creating an account (or resetting its secrets) hands out once."""

    account: dict[str, Any]
    password: str | None = None  # set when generated
    totp_secret: str | None = None
    totp_uri: str | None = None


def account_id(bureau: str, staff_id: str) -> str:
    """Return the id of a person's account."""
    return f"{bureau}:{staff_id}"


class Accounts:
    """Creates, changes and reads accounts; keeps their tokens in step."""

    def __init__(
        self,
        db: Any,
        passwords: Passwords,
        tokens: TokenStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._accounts = db[ACCOUNTS]
        self._passwords, self._tokens, self._clock = passwords, tokens, clock
        self.attempts = SignInAttempts(db, self._accounts, clock)

    async def create(
        self,
        person: RosterPerson,
        username: str,
        password: str | None,
        role: Role,
        created_by: str,
        roster: Callable[[], Awaitable[RosterPerson]] | None = None,
    ) -> NewAccount:
        """Create a person's account; a leadership post is enrolled in TOTP at once (secret shown once).

        `roster` reads the person from the roster again; given, it runs after the insert (see `_recheck`)."""
        if person.departed:
            raise AccountRefused(409, f"{person.name} 已离开本局 / has left the bureau")
        if role not in ACCOUNT_ROLES:
            raise AccountRefused(
                422,
                f"{role.value} 不是账号角色（只能是 staff、admin 或 viewer） / "
                f"role {role.value} is not an account role (staff, admin, viewer)",
            )
        # Usernames differ by more than case (`Chief` beside `chief` misleads people and admins). The unique
        # index on username_folded settles two concurrent creations; this names the existing account.
        folded = username.casefold()
        for other in await self.of_bureau(person.bureau):
            if str(other.get("username", "")).casefold() == folded:
                raise AccountRefused(
                    409,
                    f"用户名与已有的 {other['username']} 仅大小写不同 / "
                    f"the username is taken: {other['username']} differs only in case",
                )
        generated = None if password is not None else generate_password()
        now = self._clock()
        doc: dict[str, Any] = {
            "_id": account_id(person.bureau, person.staff_id),
            "bureau": person.bureau,
            "staff_id": person.staff_id,
            "username": username,
            "username_folded": folded,
            "name": person.name,
            "post": person.post,
            "section": person.section,
            "role": role.value,
            "password_hash": await self._passwords.hash_off_loop(password or generated or ""),
            "totp_secret": None,
            "totp_step": None,
            "failed_attempts": 0,
            "locked_until": None,
            "disabled": False,
            "disabled_reason": None,
            "created_at": now,
            "created_by": created_by,
        }
        secret = totp.new_secret() if needs_second_factor(person.post) else None
        doc["totp_secret"] = secret
        try:
            await self._accounts.insert_one(doc)
        except DuplicateKeyError as exc:
            raise AccountRefused(
                409, "该人员已有账号或用户名已被使用 / the person has an account, or the username is taken"
            ) from exc
        if roster is not None:
            return await self._recheck(doc, await roster(), generated)
        uri = totp.provisioning_uri(secret, f"{person.bureau}/{username}") if secret else None
        return NewAccount(doc, generated, secret, uri)

    async def _recheck(self, doc: dict[str, Any], now: RosterPerson, generated: str | None) -> NewAccount:
        """Bring the account just inserted in step with the roster read after the insert.

        The person `create` checked was read before the password hash (a tenth of a second or more); a
        departure or post change recorded meanwhile ran its `follow_roster` while there was no account yet.
        Race-free because a roster change is written before its `follow_roster` reads the account: either
        this read (after the insert) sees the change, or the change was written after it, so its
        `follow_roster` and the roster policy find the account and disable or update it themselves. A
        departure answers 409 as it does in order; the account stays, disabled with its tokens revoked."""
        if await self.follow_roster(now):
            doc = await self.get(now.bureau, now.staff_id) or doc
        if now.departed:
            raise AccountRefused(409, f"{now.name} 已离开本局 / has left the bureau")
        secret = doc.get("totp_secret")
        if secret is None and needs_second_factor(now.post):  # promoted meanwhile: enrolled, as in order
            return replace(await self.enrol_totp(now.bureau, now.staff_id), password=generated)
        uri = totp.provisioning_uri(secret, f"{now.bureau}/{doc['username']}") if secret else None
        return NewAccount(doc, generated, secret, uri)

    async def get(self, bureau: str, staff_id: str) -> dict[str, Any] | None:
        """Return a person's account."""
        return await self._accounts.find_one({"_id": account_id(bureau, staff_id)})  # type: ignore[no-any-return]

    async def by_username(self, bureau: str, username: str) -> dict[str, Any] | None:
        """Return the account a bureau's username names."""
        return await self._accounts.find_one({"bureau": bureau, "username": username})  # type: ignore[no-any-return]

    async def still_current(self, account: dict[str, Any]) -> bool:
        """After issuing tokens from `account` (as read before): True when they may stand.

        False when the account was disabled, changed post or person, or had its tokens revoked since it was
        read; the issuer then revokes what it just issued. Race-free because every such change moves the
        stamp in the same write as the change and only then revokes or updates the tokens: either this read
        sees the stamp moved, or the change came after it, so after the insert, and the change's
        update_many reaches the new tokens as well."""
        now = await self.get(account["bureau"], account["staff_id"])
        return (
            now is not None
            and not now.get("disabled")
            and now.get(TOKEN_EPOCH, 0) == account.get(TOKEN_EPOCH, 0)
        )

    async def of_bureau(self, bureau: str) -> list[dict[str, Any]]:
        """Return the bureau's accounts by username."""
        return [doc async for doc in self._accounts.find({"bureau": bureau}).sort("username", 1)]

    async def disable(self, bureau: str, staff_id: str, reason: str) -> dict[str, Any]:
        """Disable an account and revoke every token it holds, at once."""
        account = await self._require(bureau, staff_id)
        await self._set(account, {"disabled": True, "disabled_reason": reason}, fence=True)
        await self._tokens.revoke_account(account["_id"])
        return {**account, "disabled": True, "disabled_reason": reason}

    async def enable(
        self, bureau: str, staff_id: str, person: RosterPerson, account: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Enable a disabled account again (not for a person who left) and clear its lockout.

        `account` is the account as read before `person` was read from the roster (read here when None). The
        write holds only while its stamp has not moved: a departure, disable or reset since then answers 409.
        Read in that order, a departure the roster read missed came after the account read, so it moves the
        stamp before this write (refused) or reads the enabled account after it and disables it again."""
        account = account or await self._require(bureau, staff_id)
        if person.departed:
            raise AccountRefused(409, f"{person.name} 已离开本局 / has left the bureau")
        changes = {"disabled": False, "disabled_reason": None, "failed_attempts": 0, "locked_until": None}
        if not await self._set(account, changes, unmoved=True):
            raise AccountRefused(
                409, "账号刚被变更，请重新读取后再试 / the account changed meanwhile: read it again and retry"
            )
        await self.attempts.clear(bureau, account["username"])
        return {**account, **changes}

    async def reset_password(self, bureau: str, staff_id: str, password: str | None) -> NewAccount:
        """Set a new password (generated when none is given), clear the lockout and end every session."""
        account = await self._require(bureau, staff_id)
        generated = None if password is not None else generate_password()
        changes = {
            "password_hash": await self._passwords.hash_off_loop(password or generated or ""),
            "failed_attempts": 0,
            "locked_until": None,
        }
        await self._set(account, changes, fence=True)
        await self._tokens.revoke_account(account["_id"])
        await self.attempts.clear(bureau, account["username"])
        return NewAccount({**account, **changes}, generated)

    async def enrol_totp(self, bureau: str, staff_id: str) -> NewAccount:
        """Give the account a new TOTP secret (shown once); codes of the old one stop working."""
        account = await self._require(bureau, staff_id)
        secret = totp.new_secret()
        await self._set(account, {"totp_secret": secret, "totp_step": None})
        uri = totp.provisioning_uri(secret, f"{bureau}/{account['username']}")
        return NewAccount({**account, "totp_secret": secret}, None, secret, uri)

    async def follow_roster(self, person: RosterPerson) -> bool:
        """Keep the account's name, post and section as the roster has them; a departure disables it."""
        account = await self.get(person.bureau, person.staff_id)
        if account is None:
            return False
        changes: dict[str, Any] = {"name": person.name, "post": person.post, "section": person.section}
        # A departure marks an account disabled for another reason too: the write moves the stamp, which an
        # enable read before the departure is fenced by (see `enable`).
        if person.departed and account.get("disabled_reason") != LEFT:
            changes |= {"disabled": True, "disabled_reason": LEFT}
        if all(account.get(k) == v for k, v in changes.items()):
            return False
        await self._set(account, changes, fence=True)
        if changes.get("disabled"):
            await self._tokens.revoke_account(account["_id"])
            return True
        if needs_second_factor(person.post):
            # Leadership rights are held only by sessions opened with a TOTP code: the others end now, and
            # the person signs in again with a code (after enrolment when they have no secret yet).
            await self._tokens.revoke_account(account["_id"], without_second_factor=True)
        await self._tokens.follow_person({**account, **changes})
        return True

    async def accept_totp_step(self, account: dict[str, Any], step: int) -> bool:
        """Remember the TOTP step just used, only if no later or equal step was (False: the code was used).

        A conditional write, so of concurrent sign-ins with one code exactly one is accepted; it also holds
        the secret, so a code of a secret replaced meanwhile is refused."""
        used = await self._accounts.update_one(
            {
                "_id": account["_id"],
                "totp_secret": account.get("totp_secret"),
                "$or": [{"totp_step": None}, {"totp_step": {"$lt": step}}],
            },
            {"$set": {"totp_step": step}},
        )
        return bool(used.matched_count)

    async def note_success(self, account: dict[str, Any]) -> None:
        """Note the sign-in time (the failure counts the attempt took part in are cleared by `attempts`)."""
        await self._accounts.update_one({"_id": account["_id"]}, {"$set": {"last_sign_in_at": self._clock()}})

    async def rehash(self, account: dict[str, Any], password: str) -> None:
        """Store a stronger hash of a password just verified (when the parameters were raised)."""
        await self._set(account, {"password_hash": await self._passwords.hash_off_loop(password)})

    async def _require(self, bureau: str, staff_id: str) -> dict[str, Any]:
        account = await self.get(bureau, staff_id)
        if account is None:
            raise AccountRefused(404, "本局没有该账号 / account not found")
        return account

    async def _set(
        self, account: dict[str, Any], changes: dict[str, Any], fence: bool = False, unmoved: bool = False
    ) -> bool:
        """Write the changes; with `unmoved`, only while the stamp is as `account` was read (False if not)."""
        update: dict[str, Any] = {"$set": {**changes, "updated_at": self._clock()}}
        if fence:  # the change reaches the tokens next: move the stamp first (see `still_current`)
            update["$inc"] = {TOKEN_EPOCH: 1}
        query: dict[str, Any] = {"_id": account["_id"]}
        if unmoved:  # None matches an account whose stamp never moved (no field), in MongoDB as in memory
            query[TOKEN_EPOCH] = account.get(TOKEN_EPOCH)
        return bool((await self._accounts.update_one(query, update)).matched_count)
