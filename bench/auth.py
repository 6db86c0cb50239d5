"""Sign-in and token-check cost: p99 of an authenticated GET with a person's token, with an integration key,
and of the unauthenticated /healthz, interleaved in one run on the same stack (ratios count, not times).

`python -m bench.auth [--requests N]` starts its own embedded stack with the demo people seeded."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.latency import percentiles
from shared.devstack.processes import free_port
from shared.devstack.stack import SERVICES, Stack, StackConfig

ME = "/api/v1/auth/me"  # the cheapest authenticated route: what is left is mostly the token check


async def _timed(http: httpx.AsyncClient, path: str, headers: dict[str, str]) -> float:
    began = time.perf_counter()
    answer = await http.get(path, headers=headers)
    answer.raise_for_status()
    return time.perf_counter() - began


async def bench_auth(stack: Stack, n: int) -> dict[str, Any]:
    """Measure sign-in and the three GETs; the stack must have been started with seed_people."""
    person = stack.credentials["people"]["finance"]["chief"]  # no TOTP: sign-in can be repeated
    key = {"Authorization": f"Bearer {stack.credentials['finance']}"}
    sign_in = {"bureau": "finance", "username": person["username"], "password": person["password"]}
    async with httpx.AsyncClient(base_url=stack.config.url("gateway"), timeout=30) as http:
        sign_ins = []
        for _ in range(max(5, n // 20)):
            began = time.perf_counter()
            answer = await http.post("/api/v1/auth/sign-in", json=sign_in)
            answer.raise_for_status()
            sign_ins.append(time.perf_counter() - began)
        token = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        samples: dict[str, list[float]] = {"person_token": [], "integration_key": [], "healthz": []}
        for _ in range(20):  # warm up connections and the key cache
            for path, headers in ((ME, token), (ME, key), ("/healthz", {})):
                await _timed(http, path, headers)
        for _ in range(n):  # interleaved, so the three see the same noise
            samples["person_token"].append(await _timed(http, ME, token))
            samples["integration_key"].append(await _timed(http, ME, key))
            samples["healthz"].append(await _timed(http, "/healthz", {}))
    figures = {name: percentiles(values) for name, values in samples.items()}
    return {
        "requests_each": n,
        "sign_in": percentiles(sign_ins),
        **figures,
        "p99_person_over_key": round(
            figures["person_token"]["p99_ms"] / figures["integration_key"]["p99_ms"], 2
        ),
        "p99_person_over_healthz": round(figures["person_token"]["p99_ms"] / figures["healthz"]["p99_ms"], 2),
    }


def main() -> None:
    """Start a stack with the demo people and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="GETs of each kind")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as tmp:
        config = StackConfig(
            var_dir=Path(tmp),
            kafka_port=free_port(),
            mongo_port=free_port(),
            ports={s.name: free_port() for s in SERVICES},
            log_level="WARNING",
            seed_people=True,
            service_env_overrides={"GATEWAY_RATE_PER_SECOND": "0"},  # measure auth, not the rate limit
        )
        stack = Stack(config)
        try:
            stack.start()
            print(json.dumps({"auth": asyncio.run(bench_auth(stack, args.requests))}, indent=2), flush=True)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
