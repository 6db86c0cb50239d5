"""Every service that consumes Kafka says on its /healthz whether its consumers run (README: "joining", then
"running"), whatever per-subscriber details it adds: a probe waiting for "running" succeeds on each."""

from __future__ import annotations

import httpx
import pytest

from shared.devstack.stack import Stack
from tests.support import eventually

pytestmark = pytest.mark.integration
CONSUMING = ("intake", "casequery", "assignment", "disbursement", "notification")


@pytest.mark.parametrize("service", CONSUMING)
async def test_a_consuming_service_says_its_consumers_are_running(stack: Stack, service: str) -> None:
    async def state() -> str | None:
        async with httpx.AsyncClient(timeout=10) as http:
            health = (await http.get(f"{stack.config.url(service)}/healthz")).json()
        return health["consumers"] if health["consumers"] == "running" else None

    assert await eventually(state, 60, f"{service}'s consumers running") == "running"
