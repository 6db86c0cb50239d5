"""The benchmark's CPU by window: what a reader of a sustained run relies on to see where it slows."""

from __future__ import annotations

import os

from bench.lags import lag_is_bounded
from bench.latency import _cpu_table
from bench.processes import cpu_between, cpu_seconds


def test_cpu_by_window_is_each_process_share_of_one_core_between_the_windows_readings() -> None:
    readings = [
        (9.0, {"tansu": 0.0, "secantusdb": 0.0}),  # before the window: not counted
        (10.0, {"tansu": 1.0, "secantusdb": 2.0}),
        (11.0, {"tansu": 1.3, "secantusdb": 2.5}),
        (12.0, {"tansu": 1.6, "secantusdb": 3.0}),
        (13.0, {"tansu": 9.0, "secantusdb": 9.0}),  # after it
    ]
    assert cpu_between(readings, 10.0, 12.0) == {"total": 80.0, "secantusdb": 50.0, "tansu": 30.0}


def test_a_window_with_fewer_than_two_readings_reports_nothing_rather_than_a_made_up_share() -> None:
    assert cpu_between([(10.0, {"tansu": 1.0})], 9.0, 11.0) == {}
    assert cpu_between([], 0.0, 60.0) == {}


def test_the_sustained_table_shows_every_process_in_every_window() -> None:
    windows = [
        {"from_s": 0, "cpu_percent": {"total": 80.0, "tansu": 30.0, "secantusdb": 50.0}},
        {"from_s": 60, "cpu_percent": {"total": 95.0, "tansu": 45.0, "secantusdb": 50.0}},
    ]
    lines = _cpu_table(windows)
    assert "| tansu | 30 | 45 |" in lines
    assert "| secantusdb | 50 | 50 |" in lines
    assert _cpu_table([{"from_s": 0, "cpu_percent": {}}]) == []


def test_this_process_has_used_some_cpu_and_a_process_that_is_gone_none() -> None:
    assert cpu_seconds(os.getpid()) > 0
    assert cpu_seconds(2**22 + 12345) == 0.0  # above the kernel's pid limit: no such process


def test_a_lag_is_bounded_when_its_last_window_stays_small_or_within_twice_its_first() -> None:
    assert lag_is_bounded(3, 5)
    assert lag_is_bounded(100, 200)
    assert not lag_is_bounded(100, 300)
