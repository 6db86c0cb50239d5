"""A path or query longer than any route needs is a 414 with the reason, never a 500 (with or without a key)."""

from __future__ import annotations

import httpx
import pytest

from services.gateway.bootstrap import MAX_TARGET_BYTES
from tests.unit.test_gateway_forwarding import gateway


def answered_upstream(request: httpx.Request) -> httpx.Response:
    return httpx.Response(422, json={"detail": "the service saw it"})


@pytest.mark.parametrize(
    "target",
    [
        "/api/v1/cases?status=" + "x" * 40_000,
        "/api/v1/cases/" + "x" * 40_000,
        "/api/v1/statistics?from=" + "1" * (MAX_TARGET_BYTES + 1),
    ],
    ids=["query", "path", "just-over"],
)
@pytest.mark.parametrize("key", [None, "Bearer czk_x"], ids=["no-key", "key"])
async def test_an_overlong_target_is_414(target: str, key: str | None) -> None:
    async with gateway(answered_upstream) as client:
        answer = await client.get(target, headers={"Authorization": key} if key else {})
    assert answer.status_code == 414 and "at most" in answer.json()["detail"]


async def test_a_long_target_within_the_limit_reaches_the_service() -> None:
    async with gateway(answered_upstream) as client:
        answer = await client.get(
            "/api/v1/cases?status=" + "x" * 20_000, headers={"Authorization": "Bearer k"}
        )
    assert answer.status_code == 422 and answer.json()["detail"] == "the service saw it"


async def test_the_limit_counts_the_question_mark_and_a_refusal_never_echoes_a_long_path() -> None:
    query = "x" * (MAX_TARGET_BYTES - len("/api/v1/cases?status="))
    async with gateway(answered_upstream) as client:
        over = await client.get("/api/v1/cases?status=" + query + "y", headers={"Authorization": "Bearer k"})
        unknown = await client.get("/api/v1/nothing/" + '"' * 10_000)
    assert over.status_code == 414 and f"are {MAX_TARGET_BYTES + 1} bytes" in over.json()["detail"]
    assert unknown.status_code == 404 and len(unknown.content) < 1_000
