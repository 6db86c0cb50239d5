"""The event envelope: what every event on Kafka and in the event store carries."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Actor(BaseModel):
    """Who caused an event: a person (as they were at that moment), an integration, or a service policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(
        description="person | integration | service (api_key: events recorded before people signed in)"
    )
    id: str = Field(description="Staff id, integration key id, or service policy name")
    bureau: str | None = None
    staff_id: str | None = Field(default=None, description="A person's roster id")
    name: str | None = Field(default=None, description="A person's name at that moment")
    post: str | None = Field(default=None, description="A person's post at that moment, e.g. 副局长")
    key_id: str | None = Field(default=None, description="The key or token the caller presented")


class EventEnvelope(BaseModel):
    """A recorded event as published on Kafka (key = stream_id) and served by the API."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    event_type: str = Field(description="Past-tense event name, e.g. CaseOpened")
    schema_version: int = Field(ge=1)
    stream_id: str
    stream_type: str = Field(description="Aggregate type, e.g. case")
    version: int = Field(ge=1, description="Position of the event in its stream, from 1")
    position: int | None = Field(default=None, ge=1, description="Global order in the event store, from 1")
    bureau: str
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    actor: Actor
    correlation_id: UUID
    causation_id: UUID | None = None
    data: dict[str, Any]
