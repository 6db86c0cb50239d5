"""The cost benchmark's count from outside: the server's opcounters, idle rate and the bench's own reads off."""

from __future__ import annotations

from bench.cost import _load_table, counts_of, server_per_case, summary


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


RELAY_METRICS = """\
# TYPE mongodb_commands_total counter
mongodb_commands_total{collection="events",command="getMore"} 9.0
# TYPE relay_wakeups_total counter
relay_wakeups_total{answer="inserts"} 2.0
relay_wakeups_total{answer="empty"} 7.0
"""


def test_the_relays_empty_wakeups_are_counted_beside_its_commands_not_among_them() -> None:
    counts = counts_of("relay", RELAY_METRICS)
    assert counts[("relay", "wakeups", "empty", "")] == 7.0
    report = summary(1, 4.0, 20.0, 1.0, counts, counts)
    assert report["mongodb_commands_per_case"]["to_concierge_visible"] == 9.0  # getMores, not wake-ups too
    assert report["relay_empty_wakeups_per_case"] == 7.0
    assert "7.0 per case came back empty" in _load_table({**report, "idle_cpu_percent": {}}, "x")
