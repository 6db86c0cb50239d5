"""Helpers for the assignment unit tests (no tests here): cases on an in-memory recorder, an app with fakes."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from pydantic import BaseModel

from services.assignment.application.boards import Context, new_events
from services.assignment.bootstrap import Ports, mount
from services.assignment.projections.case_summaries import InMemoryCaseSummaries
from shared.auth.keys import ZONE, Role
from shared.contracts.cases import Category, Channel, Enterprise
from shared.contracts.envelope import Actor, EventEnvelope
from shared.contracts.events import CaseOpened
from shared.eventstore.memory import InMemoryRecorder
from shared.eventstore.recorder import EventRecorder, Recording
from shared.idempotency import InMemoryIdempotencyStore
from tests.fakes import FakeApiKeys
from tests.support import credit_code

KEYS = {
    "finance-admin": ("finance", Role.ADMIN),
    "finance-staff": ("finance", Role.STAFF),
    "innovation-admin": ("innovation", Role.ADMIN),
    "planning-admin": ("planning", Role.ADMIN),
    "zone-operator": (ZONE, Role.OPERATOR),
}


def enterprise(n: int) -> Enterprise:
    """Return enterprise n with a valid credit code."""
    return Enterprise(name=f"企业{n}", credit_code=credit_code(n))


def context(bureau: str, command: str | None = None) -> Context:
    """Return a command context of a test actor."""
    return Context(
        bureau=bureau,
        actor=Actor(kind="api_key", id="test", bureau=bureau),
        command_id=command or uuid.uuid4().hex,
        correlation_id=uuid.uuid4(),
    )


async def record(
    recorder: EventRecorder, stream: str, bureau: str, events: list[BaseModel], stream_type: str = "case"
) -> list[EventEnvelope]:
    """Append events at the end of a stream, as another service's command would."""
    version = await recorder.stream_version(stream)
    ctx = context(bureau)
    recording = Recording(
        stream_id=stream,
        stream_type=stream_type,
        expected_version=version,
        bureau=bureau,
        actor=ctx.actor,
        command_id=ctx.command_id,
        correlation_id=ctx.correlation_id,
    )
    return (await recorder.append(recording, new_events(events))).events


async def open_case(recorder: EventRecorder, case_id: str, bureau: str, n: int) -> EventEnvelope:
    """Record CaseOpened for enterprise n, as intake does."""
    opened = CaseOpened(
        case_id=case_id,
        enterprise=enterprise(n),
        category=Category.FUND_DISBURSEMENT,
        title="补贴资金拨付",
        description="资金未到账",
        channel=Channel.VISIT,
        legacy=False,
        source="http",
        request_ref=case_id,
        request_hash="0" * 64,
    )
    [envelope] = await record(recorder, case_id, bureau, [opened])
    return envelope


class FakeBureauDirectory:
    """Knows no bureau names: notices are issued under the bureau id."""

    async def get(self, bureau_id: str) -> None:
        """Return nothing."""
        return None

    async def all(self) -> list:
        """Return no bureau."""
        return []


def app_with(recorder: InMemoryRecorder) -> FastAPI:
    """The assignment HTTP app over an in-memory recorder and fakes."""
    app = FastAPI()
    mount(
        app,
        Ports(
            recorder=recorder,
            api_keys=FakeApiKeys(KEYS),
            bureaus=FakeBureauDirectory(),
            idempotency=InMemoryIdempotencyStore(),
            summaries=InMemoryCaseSummaries(recorder),
        ),
    )
    return app


def auth(key: str, idempotency_key: str | None = None) -> dict[str, str]:
    """Headers of a call with a test key."""
    headers = {"Authorization": f"Bearer {key}"}
    return headers | ({"Idempotency-Key": idempotency_key} if idempotency_key else {})
