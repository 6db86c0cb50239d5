"""A bureau's reminder and escalation ladder: events on its own stream, the latest version in force."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from services.notification.domain.deadlines import EscalationRules
from shared.contracts.envelope import Actor
from shared.contracts.notification import EscalationRulesSet, EscalationRulesSetV2
from shared.eventstore.recorder import ConcurrencyError, EventRecorder, NewEvent, Recording

RULES_STREAM_TYPE = "notification-rules"
RULES_SCHEMA_VERSION = 2


def rules_of(schema_version: int, data: dict[str, Any]) -> EscalationRules:
    """Return the rules a stored event says, whichever schema version it was written in."""
    model = EscalationRulesSetV2 if schema_version >= 2 else EscalationRulesSet
    return EscalationRules(**model.model_validate(data).model_dump())


def rules_stream(bureau: str) -> str:
    """Return the stream id of a bureau's escalation rules."""
    return f"escalation-rules-{bureau}"


class RulesChangedMeanwhile(Exception):
    """Another change of the rules was recorded first: read them again."""


class EscalationRuleBook:
    """Reads and changes the rules through the event store."""

    def __init__(self, recorder: EventRecorder) -> None:
        self._recorder = recorder

    async def current(self, bureau: str) -> EscalationRules:
        """Return the rules in force (the defaults, version 1, until a bureau sets its own)."""
        events = await self._recorder.read_stream(rules_stream(bureau))
        if not events:
            return EscalationRules()
        return rules_of(events[-1].schema_version, events[-1].data)

    async def change(
        self, bureau: str, rules: EscalationRules, actor: Actor, expected_version: int
    ) -> EscalationRules:
        """Record new rules as the next version; the caller states the version it saw."""
        events = await self._recorder.read_stream(rules_stream(bureau))
        current = int(events[-1].data["version"]) if events else 1
        if current != expected_version:
            raise RulesChangedMeanwhile(f"rules are at version {current}, not {expected_version}")
        new = EscalationRules(**{**rules.__dict__, "version": current + 1})
        payload = EscalationRulesSetV2(**asdict(new))
        recording = Recording(
            stream_id=rules_stream(bureau),
            stream_type=RULES_STREAM_TYPE,
            expected_version=len(events),
            bureau=bureau,
            actor=actor,
            command_id=f"rules:{bureau}:{new.version}",
            correlation_id=uuid.uuid4(),
        )
        try:
            await self._recorder.append(
                recording,
                [NewEvent("EscalationRulesSet", RULES_SCHEMA_VERSION, payload.model_dump(mode="json"))],
            )
        except ConcurrencyError:
            raise RulesChangedMeanwhile("the rules were changed meanwhile") from None
        return new
