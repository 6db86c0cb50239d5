"""The second factor: time-based one-time codes (RFC 6238, pyotp), each code accepted once."""

from __future__ import annotations

from datetime import datetime

import pyotp

ISSUER = "专责店小二"
STEP_S = 30
DRIFT_STEPS = 1  # accept the previous and next 30-second code: phone clocks drift


def new_secret() -> str:
    """Return a new base32 secret."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str) -> str:
    """Return the otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(secret, interval=STEP_S).provisioning_uri(name=account, issuer_name=ISSUER)


def code_at(secret: str, when: datetime) -> str:
    """Return the code of a moment (for tests and the seeded demo people)."""
    return pyotp.TOTP(secret, interval=STEP_S).at(when)


def accepted_step(secret: str, code: str | None, now: datetime, last_step: int | None) -> int | None:
    """Return the time step the code belongs to, or None when it is wrong, stale or already used.

    Why the step is returned: the caller stores it, and a code of that step or an earlier one is refused
    afterwards, so a code seen over someone's shoulder cannot be replayed within its window."""
    if not code or not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret, interval=STEP_S)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None
