"""Passwords of people: argon2id hashes (argon2-cffi), never the password itself."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 128  # argon2 takes any length; the bound keeps a hostile body from costing more than a login


class PasswordRefused(ValueError):
    """A new password does not meet the policy; the message says why."""


class Passwords:
    """Hashes and checks passwords with argon2id (argon2-cffi's RFC 9106 low-memory profile by default)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        """Return the argon2id hash of a password that meets the policy."""
        check_policy(password)
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Tell whether the password matches the stored hash (None: spend the same time and say no)."""
        if len(password) > MAX_LENGTH:
            return False
        if stored is None and self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        try:
            # An unknown username is checked against a dummy hash, so a miss costs as long as a wrong
            # password and the answer time does not tell which usernames exist.
            return self._hasher.verify(stored or self._dummy or "", password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def hash_off_loop(self, password: str) -> str:
        """hash, in a worker thread: argon2 takes a tenth of a second of CPU (it releases the GIL)."""
        return await asyncio.to_thread(self.hash, password)

    async def verify_off_loop(self, stored: str | None, password: str) -> bool:
        """verify, in a worker thread, so a sign-in does not stall every other request of the service."""
        return await asyncio.to_thread(self.verify, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        """Tell whether a hash was made with weaker parameters than today's."""
        return self._hasher.check_needs_rehash(stored)


def check_policy(password: str) -> None:
    """Refuse a password that is too short, too long, or one repeated character."""
    if len(password) < MIN_LENGTH:
        raise PasswordRefused(
            f"密码至少 {MIN_LENGTH} 个字符 / a password needs at least {MIN_LENGTH} characters"
        )
    if len(password) > MAX_LENGTH:
        raise PasswordRefused(
            f"密码最多 {MAX_LENGTH} 个字符 / a password has at most {MAX_LENGTH} characters"
        )
    if len(set(password)) < 4:
        raise PasswordRefused("密码过于简单 / a password needs at least 4 different characters")


def generate_password() -> str:
    """Return a random password that meets the policy (shown once to whoever sets up the account)."""
    return secrets.token_urlsafe(15)
