"""The example Kafka consumer (examples/bureau_consumer.py) counts --idle-seconds from its first partition
assignment: a group join slower than the idle time (the embedded broker holds joins for ~24 s) must not make it
stop before it read anything."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

EXAMPLE = Path(__file__).parents[2] / "examples" / "bureau_consumer.py"


def load_example() -> ModuleType:
    """Import the example as a bureau would: a standalone file, not a module of this project."""
    spec = importlib.util.spec_from_file_location("bureau_consumer", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop(spec.name, None)
    spec.loader.exec_module(module)
    return module


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Message:
    def __init__(self, offset: int) -> None:
        self._offset = offset

    def error(self) -> None:
        return None

    def value(self) -> bytes:
        return (
            b'{"event_id": "e%d", "position": %d, "stream_id": "case-1", "version": %d, "event_type": "X"}'
            % (self._offset, self._offset, self._offset)
        )

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset


def fake_consumer(clock: Clock, join_seconds: float | None, records: int) -> type:
    """A Consumer whose group join takes join_seconds (None: never finishes), then holds `records` records."""

    class FakeConsumer:
        def __init__(self, config: dict[str, Any]) -> None:
            self.on_assign: Any = None
            self.joined_at = None if join_seconds is None else clock.now + join_seconds
            self.pending = list(range(records))

        def subscribe(self, topics: list[str], on_assign: Any) -> None:
            self.on_assign = on_assign

        def poll(self, timeout: float) -> Message | None:
            if self.joined_at is None or clock.now + timeout < self.joined_at:
                clock.now += timeout  # an empty poll waits its whole timeout
                return None
            if self.on_assign is not None:
                clock.now = max(clock.now, self.joined_at)
                self.on_assign(self, [0])
                self.on_assign = None
            if self.pending:
                return Message(self.pending.pop(0))
            clock.now += timeout
            return None

        def commit(self, **_: Any) -> None:
            pass

        def close(self) -> None:
            pass

    return FakeConsumer


def follow(
    monkeypatch: pytest.MonkeyPatch, join_seconds: float | None, records: int, idle: float
) -> tuple[int, Clock]:
    example, clock = load_example(), Clock()
    monkeypatch.setattr(example, "Consumer", fake_consumer(clock, join_seconds, records))
    monkeypatch.setattr(example.time, "monotonic", clock)
    monkeypatch.setattr(example, "load_schemas", lambda folder: ({}, {}))
    monkeypatch.setattr(example, "check", lambda *args: None)
    args = argparse.Namespace(
        bootstrap="kafka:9092",
        bureau="finance",
        schemas="contracts/schemas",
        group="finance-test",
        max_events=sys.maxsize,
        idle_seconds=idle,
        max_poll_interval_ms=300_000,
    )
    return example.follow(args), clock


def test_a_group_join_slower_than_the_idle_time_does_not_end_the_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handled, clock = follow(monkeypatch, join_seconds=24, records=600, idle=15)

    assert handled == 600
    assert 1000 + 24 + 15 <= clock.now < 1000 + 24 + 15 + 2  # stopped once idle for 15 s after the last one


def test_a_join_that_never_finishes_ends_after_the_rebalance_timeout_and_the_idle_time(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    handled, clock = follow(monkeypatch, join_seconds=None, records=5, idle=15)

    assert handled == 0
    assert 1000 + 300 + 15 <= clock.now < 1000 + 300 + 15 + 1
    assert "no partitions were assigned within 315 s" in capsys.readouterr().err
