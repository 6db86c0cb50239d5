"""The gateway logs at the level every service is given (LOG_LEVEL), unless GATEWAY_LOG_LEVEL says otherwise."""

from __future__ import annotations

import pytest

from services.gateway.settings import GatewaySettings


def test_the_shared_log_level_reaches_the_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_LOG_LEVEL", raising=False)
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    assert GatewaySettings().log_level == "DEBUG"


def test_the_gateways_own_log_level_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("GATEWAY_LOG_LEVEL", "WARNING")
    assert GatewaySettings().log_level == "WARNING"
