"""Event payload models (the `data` of an envelope), registered by type and schema version."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.cases import Category, Channel, Enterprise, SealedContact
from shared.contracts.text import read_stored


class CaseOpened(BaseModel):
    """An enterprise's problem was accepted as a case (立案)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str
    enterprise: Enterprise
    category: Category
    title: str
    description: str
    channel: Channel
    legacy: bool
    source: str = Field(description="http | kafka: the intake path")
    request_ref: str = Field(description="Idempotency-Key (HTTP) or request_id (Kafka)")
    request_hash: str = Field(description="SHA-256 of the canonical request, to detect key reuse")
    contact: SealedContact | None = Field(
        default=None,
        description="The enterprise's contact, sealed under the enterprise's key (crypto-shredding)",
    )


def _registry() -> dict[tuple[str, int], type[BaseModel]]:
    from shared.contracts import assignment, calendar, casework, notification

    models: list[type[BaseModel]] = [CaseOpened]
    for module in (assignment, casework, calendar, notification):
        models += [
            cls
            for cls in vars(module).values()
            if isinstance(cls, type) and issubclass(cls, module._Event) and cls is not module._Event
        ]
    # Later schema versions of a type are models of their own, published under the type's name.
    versions: dict[type[BaseModel], tuple[str, int]] = {
        notification.EscalationRulesSetV2: ("EscalationRulesSet", 2)
    }
    return {versions.get(cls, (cls.__name__, 1)): cls for cls in models}


EVENT_MODELS: dict[tuple[str, int], type[BaseModel]] = _registry()


def event_type_of(model: BaseModel) -> tuple[str, int]:
    """Return the (type name, schema version) under which an event model is published."""
    for key, cls in EVENT_MODELS.items():
        if type(model) is cls:
            return key
    raise KeyError(f"{type(model).__name__} is not a registered event model")


# Upcasters: (type, version) -> the same event's data at version + 1. A change to an event that is not
# additive (a field renamed, a meaning changed) bumps its schema version and registers one here, so old
# events in the store read as the newest version.
UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


def newest_version(event_type: str) -> int | None:
    """Return the newest schema version this code knows of an event type, or None for an unknown type."""
    versions = [v for (t, v) in EVENT_MODELS if t == event_type]
    return max(versions) if versions else None


def is_known_event(event_type: str) -> bool:
    """Tell whether this code knows the event type at any schema version."""
    return newest_version(event_type) is not None


def parse_event_data(event_type: str, schema_version: int, data: dict) -> BaseModel:
    """Validate an event payload, reading other schema versions of a known type as the newest one known.

    An older event is upcast step by step. A newer one (from a producer upgraded before this consumer) is read
    with the newest model known here, leaving out the fields it added: versions of an event only add optional
    fields unless an upcaster says otherwise (tests/unit/test_event_evolution.py holds every type to that).
    """
    newest = newest_version(event_type)
    if newest is None:
        raise ValueError(f"unknown event {event_type} v{schema_version}")
    cls = EVENT_MODELS[(event_type, newest)]
    version = schema_version
    while version < newest:
        upcast = UPCASTERS.get((event_type, version))
        if upcast is not None:
            data = upcast(data)
        version += 1
    if version > newest:
        data = {k: v for k, v in data.items() if k in cls.model_fields}
    return read_stored(cls, data)
