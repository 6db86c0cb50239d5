"""A small HTTP client of the public API, as another bureau's system would use it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from shared.devstack.stack import Stack
from tests.support import eventually


@dataclass
class Api:
    """Clients of the gateway authenticated as the finance and the innovation bureau."""

    finance: httpx.AsyncClient
    innovation: httpx.AsyncClient
    anonymous: httpx.AsyncClient

    @classmethod
    @asynccontextmanager
    async def connect(cls, stack: Stack) -> AsyncIterator[Api]:
        base = stack.config.url("gateway")

        def client(key: str | None) -> httpx.AsyncClient:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            return httpx.AsyncClient(base_url=base, headers=headers, timeout=30)

        async with (
            client(stack.credentials["finance"]) as finance,
            client(stack.credentials["innovation"]) as innovation,
            client(None) as anonymous,
        ):
            yield cls(finance, innovation, anonymous)

    async def wait_for_case(
        self, case_id: str, client: httpx.AsyncClient | None = None, timeout: float = 60
    ) -> Any:
        """Wait until the case projection shows the case; return it."""
        http = client or self.finance

        async def probe() -> Any:
            answer = await http.get(f"/api/v1/cases/{case_id}")
            return answer.json() if answer.status_code == 200 else None

        return await eventually(probe, timeout, f"case {case_id} in the projection")

    async def cases_of(self, credit_code: str, client: httpx.AsyncClient | None = None) -> list[Any]:
        """Return the cases of an enterprise, as listed."""
        answer = await (client or self.finance).get("/api/v1/cases", params={"enterprise": credit_code})
        answer.raise_for_status()
        return list(answer.json()["items"])
