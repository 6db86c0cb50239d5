"""Personal information as lists and logs show it: masked, never whole."""

from __future__ import annotations


def mask_mobile(mobile: str) -> str:
    """Return a mainland mobile number as 138****1234."""
    digits = mobile.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def mask_email(email: str) -> str:
    """Return an address as z***@example.cn."""
    local, at, domain = email.partition("@")
    if not at:
        return "*" * len(email)
    return f"{local[:1]}***@{domain}"


def mask_name(name: str) -> str:
    """Return a name as 王** (the family name only)."""
    name = name.strip()
    return f"{name[:1]}{'*' * max(len(name) - 1, 1)}" if name else ""


def mask_address(channel: str, address: str) -> str:
    """Return how a channel's address may appear in a list or a log line."""
    if channel == "sms":
        return mask_mobile(address)
    if channel == "email":
        return mask_email(address)
    return address if channel == "inbox" else f"{address[:2]}***"
