"""What the service decides to tell whom: an intent, before it is fanned out to channels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STAFF, ENTERPRISE, SECTION = "staff", "enterprise", "section"


def staff_subject(bureau: str, staff_id: str) -> str:
    """Return the recipient id of a roster person."""
    return f"{STAFF}:{bureau}:{staff_id}"


def enterprise_subject(bureau: str, credit_code: str) -> str:
    """Return the recipient id of an enterprise's contact (per bureau: each bureau holds its own contact)."""
    return f"{ENTERPRISE}:{bureau}:{credit_code}"


def section_subject(bureau: str, section: str) -> str:
    """Return the recipient id of a section (科室) of a bureau."""
    return f"{SECTION}:{bureau}:{section}"


def kind_of(subject: str) -> str:
    """Return staff, enterprise or section."""
    return subject.split(":", 1)[0]


@dataclass(frozen=True)
class Intent:
    """Tell a recipient something, because of a cause (an event id or a timer id)."""

    cause: str
    bureau: str
    case_id: str | None
    recipient: str
    template: str
    variables: dict[str, Any] = field(default_factory=dict)
    escalation: bool = False  # ignores quiet hours
    concierge_id: str | None = None  # whose assignment it announces (checked again if held back)
