"""CPU used by the stack's processes (the embedded servers and the services), read from /proc."""

from __future__ import annotations

import asyncio
import os
import time

from shared.devstack.stack import Stack

# (perf_counter time, CPU seconds each process has used so far)
Readings = list[tuple[float, dict[str, float]]]


def cpu_seconds(pid: int) -> float:
    """Return the CPU time a process has used (user + system), 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stack_processes(stack: Stack) -> dict[str, int]:
    """Return the pid of every process of the stack: the embedded servers and the services."""
    children = {"tansu": stack.kafka, "secantusdb": stack.mongo, **stack.services}
    return {name: c.proc.pid for name, c in children.items() if c is not None and c.proc is not None}


def read_cpu(pids: dict[str, int]) -> dict[str, float]:
    """Return the CPU seconds each named process has used so far."""
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def cpu_use(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Return each process's share of one core (percent) between two readings."""
    return {name: round((after[name] - before.get(name, 0.0)) / seconds * 100, 1) for name in after}


async def sample_cpu(pids: dict[str, int], into: Readings, every: float = 1.0) -> None:
    """Append (time, CPU seconds by process) every `every` seconds until cancelled."""
    while True:
        into.append((time.perf_counter(), read_cpu(pids)))
        await asyncio.sleep(every)


def cpu_between(readings: Readings, lo: float, hi: float) -> dict[str, float]:
    """Return each process's share of one core (percent) from the first reading at or after lo to the last up to hi.

    Empty when fewer than two readings fall in the interval. The total is under "total".
    """
    inside = [(at, cpu) for at, cpu in readings if lo <= at <= hi]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return {}
    (t0, first), (t1, last) = inside[0], inside[-1]
    shares = cpu_use(first, last, t1 - t0)
    return {"total": round(sum(shares.values()), 1), **dict(sorted(shares.items(), key=lambda kv: -kv[1]))}
