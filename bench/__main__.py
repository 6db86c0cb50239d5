"""`make bench`: each figure beside its raw ceiling, measured in one run on the same servers.

Not part of `make test`, and never judged on absolute times: these machines are noisy, so ratios count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from importlib import import_module
from pathlib import Path
from typing import Any

from bench.cost import CASES
from shared.devstack.processes import free_port
from shared.devstack.stack import SERVICES, Stack, StackConfig


def _bench(module: str, name: str) -> Any:
    """Import one benchmark when it runs: a part that does not import (code moved under it) stops only itself."""
    return getattr(import_module(f"bench.{module}"), name)


def _report(name: str, result: dict[str, object]) -> dict[str, object]:
    print(json.dumps({name: result}, indent=2), flush=True)
    return result


def main() -> None:
    """Run every benchmark and print a report (and write it as JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, default=1000, help="appends per sequential run")
    parser.add_argument(
        "--store-sizes",
        type=int,
        nargs=2,
        default=(10_000, 1_000_000),
        metavar=("SMALL", "LARGE"),
        help="events in the store for the append-latency-at-scale comparison",
    )
    parser.add_argument("--events", type=int, default=100_000, help="events for the rebuild benchmark")
    parser.add_argument("--requests", type=int, default=200, help="HTTP requests at 20/s for latency")
    parser.add_argument(
        "--duration",
        type=float,
        default=300,
        help="seconds of the sustained latency run at 20/s (0: skip it)",
    )
    parser.add_argument(
        "--sweep",
        type=float,
        nargs="*",
        default=[10, 20, 30, 40, 60, 80],
        metavar="RATE",
        help="requests/s of the latency sweep (no rates: skip it)",
    )
    parser.add_argument("--sweep-seconds", type=float, default=30, help="seconds at each sweep rate")
    parser.add_argument("--notifications", type=int, default=1000, help="events for the notification fan-out")
    parser.add_argument("--cases", type=int, default=CASES, help="cases opened at 4/s for the cost per case")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--only",
        choices=[
            "appends",
            "scale",
            "rebuild",
            "chain",
            "notification",
            "disbursement",
            "latency",
            "assignment",
            "auth",
            "cost",
            "broker",
        ],
        help="run one benchmark",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        config = StackConfig(
            var_dir=Path(tmp),
            kafka_port=free_port(),
            mongo_port=free_port(),
            ports={s.name: free_port() for s in SERVICES},
            log_level="WARNING",
            seed_people=True,  # the sign-in benchmark signs in a seeded person
            # bench_auth sends about 60 requests/s on one token: over the gateway's per-key limit of 20/s
            service_env_overrides={"GATEWAY_RATE_PER_SECOND": "0"},
        )
        stack = Stack(config)
        try:
            stack.start_servers()
            results: dict[str, object] = {}
            if args.only in (None, "appends"):
                results["appends"] = _report(
                    "appends", asyncio.run(_bench("appends", "bench_appends")(config.mongo_uri, args.appends))
                )
            if args.only in (None, "scale"):
                results["append_scale"] = _report(
                    "append_scale",
                    asyncio.run(_bench("appends", "bench_append_scale")(config.mongo_uri, *args.store_sizes)),
                )
            if args.only in (None, "rebuild"):
                results["rebuild"] = _report(
                    "rebuild", asyncio.run(_bench("rebuild", "bench_rebuild")(config.mongo_uri, args.events))
                )
            if args.only in (None, "chain"):
                results["chain"] = _report(
                    "chain", asyncio.run(_bench("chain", "bench_chain")(config.mongo_uri))
                )
            if args.only in (None, "notification"):
                results["notification"] = _report(
                    "notification",
                    asyncio.run(
                        _bench("notification", "bench_notification")(config.mongo_uri, args.notifications)
                    ),
                )
            if args.only in (None, "disbursement"):
                results["disbursement"] = _report(
                    "disbursement",
                    asyncio.run(_bench("disbursement", "bench")(config.mongo_uri, 100_000, 200)),
                )
            if args.only in (None, "broker"):
                broker = _report("broker", asyncio.run(_bench("broker", "bench_broker")(stack)))
                print(_bench("broker", "table")(broker), flush=True)
                results["broker"] = broker
            if args.only in (None, "latency", "assignment", "auth", "cost"):
                stack.start()
            # First on the fresh stack: the cost per case is the figure issue 13 tracks, before other loads.
            if args.only in (None, "cost"):
                cost = _report("cost", asyncio.run(_bench("cost", "bench_cost")(stack, args.cases)))
                print(_bench("cost", "table")(cost), flush=True)
                results["cost"] = cost
            if args.only in (None, "latency"):
                latency = _report(
                    "latency",
                    asyncio.run(
                        _bench("latency", "bench_latency")(
                            stack, args.requests, args.duration, args.sweep, args.sweep_seconds
                        )
                    ),
                )
                print(_bench("latency", "table")(latency), flush=True)
                results["latency"] = latency
            if args.only in (None, "assignment"):
                results["assignment"] = _report(
                    "assignment", asyncio.run(_bench("assignment", "bench_assignment")(stack, args.requests))
                )
            if args.only in (None, "auth"):
                results["auth"] = _report(
                    "auth", asyncio.run(_bench("auth", "bench_auth")(stack, args.requests))
                )
        finally:
            stack.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
