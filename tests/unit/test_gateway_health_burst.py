"""A burst of /healthz callers costs one round of probes, and leaves the gateway's health probing working."""

from __future__ import annotations

import asyncio

import httpx

from tests.unit.test_gateway_forwarding import gateway


async def test_eighty_health_callers_at_once_share_one_round_and_the_next_call_is_fresh() -> None:
    in_flight, most, probes = 0, 0, 0

    async def services(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most, probes
        probes += 1
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return httpx.Response(200, json={"status": "ok"})

    async with gateway(services) as client:
        burst = await asyncio.gather(*(client.get("/healthz") for _ in range(80)))
        after_burst = probes
        later = await client.get("/healthz")

    assert [a.status_code for a in burst] == [200] * 80
    services_probed = len(later.json()["checks"])
    # One round for the whole burst (each service once), where 80 rounds waited on a pool of a dozen before.
    assert after_burst == most == services_probed
    assert (
        later.status_code == 200 and probes == 2 * services_probed
    )  # a later caller gets a round of its own


async def test_a_caller_that_goes_away_does_not_cancel_the_round_the_others_wait_for() -> None:
    async def services(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.1)
        return httpx.Response(200, json={"status": "ok"})

    async with gateway(services) as client:
        leaving = asyncio.create_task(client.get("/healthz"))
        staying = asyncio.create_task(client.get("/healthz"))
        await asyncio.sleep(0.02)
        leaving.cancel()
        answer = await staying

    assert answer.status_code == 200 and set(answer.json()["checks"].values()) == {"ok"}
