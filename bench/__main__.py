"""`make bench`: each figure beside its raw ceiling, measured in one run on the same servers.

Not part of `make test`, and never judged on absolute times: these machines are noisy, so ratios count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from bench.appends import bench_append_scale, bench_appends
from bench.assignment import bench_assignment
from bench.latency import bench_latency
from bench.rebuild import bench_rebuild
from shared.devstack.processes import free_port
from shared.devstack.stack import SERVICES, Stack, StackConfig


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
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--only", choices=["appends", "scale", "rebuild", "latency", "assignment"], help="run one benchmark"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        config = StackConfig(
            var_dir=Path(tmp),
            kafka_port=free_port(),
            mongo_port=free_port(),
            ports={s.name: free_port() for s in SERVICES},
            log_level="WARNING",
        )
        stack = Stack(config)
        try:
            stack.start_servers()
            results: dict[str, object] = {}
            if args.only in (None, "appends"):
                results["appends"] = _report(
                    "appends", asyncio.run(bench_appends(config.mongo_uri, args.appends))
                )
            if args.only in (None, "scale"):
                results["append_scale"] = _report(
                    "append_scale", asyncio.run(bench_append_scale(config.mongo_uri, *args.store_sizes))
                )
            if args.only in (None, "rebuild"):
                results["rebuild"] = _report(
                    "rebuild", asyncio.run(bench_rebuild(config.mongo_uri, args.events))
                )
            if args.only in (None, "latency", "assignment"):
                stack.start()
            if args.only in (None, "latency"):
                results["latency"] = _report("latency", asyncio.run(bench_latency(stack, args.requests)))
            if args.only in (None, "assignment"):
                results["assignment"] = _report(
                    "assignment", asyncio.run(bench_assignment(stack, args.requests))
                )
        finally:
            stack.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
