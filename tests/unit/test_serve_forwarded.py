"""A caller cannot choose its own client address: X-Forwarded-For is believed only from proxies named."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from services.gateway.settings import GatewaySettings
from shared import service


def served_with(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(service.uvicorn, "run", lambda app, **options: seen.update(options))
    service.serve(FastAPI(), "127.0.0.1", 0, "WARNING", **kwargs)
    return seen


def test_by_default_no_forwarded_header_is_believed_even_from_localhost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # uvicorn's own default believes 127.0.0.1, from where every caller of the embedded default connects.
    assert served_with(monkeypatch)["proxy_headers"] is False


def test_a_load_balancer_named_in_the_gateway_settings_is_believed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_FORWARDED_ALLOW_IPS", "10.0.0.5")
    allowed = GatewaySettings().forwarded_allow_ips

    options = served_with(monkeypatch, forwarded_allow_ips=allowed)

    assert options["proxy_headers"] is True and options["forwarded_allow_ips"] == "10.0.0.5"
