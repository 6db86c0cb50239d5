"""The cost benchmark's count from outside: the server's opcounters, idle rate and the bench's own reads off."""

from __future__ import annotations

from bench.cost import server_per_case


def _ops(**kinds: float) -> dict[str, float]:
    return {k: kinds.get(k, 0.0) for k in ("insert", "query", "update", "delete", "getmore", "command")}


def test_per_case_is_the_busy_windows_operations_less_the_idle_rate_and_the_benchs_own_reads() -> None:
    # Idle 20 s: 40 queries and 21 commands (one of them the bench's serverStatus) -> 2 queries, 1 command a second.
    idle = _ops(query=40, command=21)
    # Busy 10 s, 10 cases: 20 queries and 10 commands of idle rate, 5 polls and 1 serverStatus of the bench's own.
    busy = _ops(insert=30, query=20 + 5 + 50, update=40, getmore=60, command=10 + 1 + 10)
    assert server_per_case(idle, 20.0, busy, 10.0, 10, polls=5) == {
        "total": 19.0,
        "insert": 3.0,
        "query": 5.0,
        "update": 4.0,
        "delete": 0.0,
        "getmore": 6.0,
        "command": 1.0,
    }
