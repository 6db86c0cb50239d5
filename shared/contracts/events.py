"""Event payload models (the `data` of an envelope), registered by type and schema version."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.cases import Category, Channel, Enterprise, SealedContact


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
    return {(cls.__name__, 1): cls for cls in models}


EVENT_MODELS: dict[tuple[str, int], type[BaseModel]] = _registry()


def event_type_of(model: BaseModel) -> tuple[str, int]:
    """Return the (type name, schema version) under which an event model is published."""
    for key, cls in EVENT_MODELS.items():
        if type(model) is cls:
            return key
    raise KeyError(f"{type(model).__name__} is not a registered event model")


def parse_event_data(event_type: str, schema_version: int, data: dict) -> BaseModel:
    """Validate an event payload against its registered model."""
    try:
        cls = EVENT_MODELS[(event_type, schema_version)]
    except KeyError:
        raise ValueError(f"unknown event {event_type} v{schema_version}") from None
    return cls.model_validate(data)
