"""The launcher (`make run`): operators' settings pass through, and a service crashing five times stops it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from shared.devstack.__main__ import _crashing_again, _restart_dead_servers
from shared.devstack.stack import SERVICES, Stack, StackConfig

GATEWAY = next(s for s in SERVICES if s.name == "gateway")
NOTIFICATION = next(s for s in SERVICES if s.name == "notification")


def stack(tmp_path: Path, operator_addresses: bool = True) -> Stack:
    ports = {s.name: 20000 + i for i, s in enumerate(SERVICES)}
    return Stack(StackConfig(var_dir=tmp_path, ports=ports, operator_addresses=operator_addresses))


def test_an_operators_public_url_and_instance_list_reach_the_services(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NOTIFICATION_PUBLIC_URL", "https://zone.example.test")
    both = "http://127.0.0.1:22102,http://127.0.0.1:22112"
    monkeypatch.setenv("GATEWAY_CASEQUERY_URL", both)
    s = stack(tmp_path)

    assert s.service_env(NOTIFICATION)["NOTIFICATION_PUBLIC_URL"] == "https://zone.example.test"
    gateway = s.service_env(GATEWAY)
    assert gateway["GATEWAY_CASEQUERY_URL"] == both
    assert gateway["GATEWAY_INTAKE_URL"] == s.config.url("intake")  # not set: the launcher's own


def test_without_them_the_launcher_points_everything_at_its_own_ports(tmp_path, monkeypatch) -> None:
    for name in ("NOTIFICATION_PUBLIC_URL", "GATEWAY_CASEQUERY_URL"):
        monkeypatch.delenv(name, raising=False)
    s = stack(tmp_path)
    assert s.service_env(NOTIFICATION)["NOTIFICATION_PUBLIC_URL"] == s.config.url("gateway")
    assert s.service_env(GATEWAY)["GATEWAY_CASEQUERY_URL"] == s.config.url("casequery")


def test_a_service_crashing_the_fifth_time_within_a_minute_stops_everything(tmp_path, capsys) -> None:
    intake = cast(Any, SimpleNamespace(log_path=tmp_path / "intake.log", proc=None))
    restarts: dict[str, list[float]] = {}

    verdicts = [_crashing_again(intake, restarts, "intake") for _ in range(5)]

    assert verdicts == [False, False, False, False, True]
    assert "intake keeps crashing" in capsys.readouterr().err


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_INTAKE_URL", raising=False)


def test_an_embedded_server_that_died_is_restarted_and_said_so(tmp_path, capsys, monkeypatch) -> None:
    s = stack(tmp_path)
    dead = SimpleNamespace(alive=False, log_path=tmp_path / "tansu.log", proc=None)
    s.kafka, s.mongo = cast(Any, dead), cast(Any, SimpleNamespace(alive=True))
    started: list[bool] = []
    monkeypatch.setattr(s, "start_servers", lambda: started.append(True))

    assert _restart_dead_servers(s, {}) is False

    assert started == [True]
    assert "embedded Kafka (Tansu) exited; restarting it" in capsys.readouterr().err
    restarts: dict[str, list[float]] = {}
    assert [_restart_dead_servers(s, restarts) for _ in range(5)][-1] is True  # dying over and over stops all


def test_a_test_stack_uses_its_own_ports_whatever_the_shell_exports(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GATEWAY_CASEQUERY_URL", "http://127.0.0.1:9")
    s = stack(tmp_path, operator_addresses=False)
    assert s.service_env(GATEWAY)["GATEWAY_CASEQUERY_URL"] == s.config.url("casequery")
    assert StackConfig.from_env().operator_addresses  # `make run`
