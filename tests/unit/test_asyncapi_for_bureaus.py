"""The published AsyncAPI tells another bureau's system what it needs: the listener it reaches and how it signs
in, the signature headers every request must carry, and no correlation header the intake would ignore."""

from __future__ import annotations

import json
from pathlib import Path

from services.published import asyncapi

COMMITTED = Path(__file__).resolve().parents[2] / "contracts" / "asyncapi.json"


def test_the_request_messages_declare_their_signature_headers_and_no_correlation_header() -> None:
    messages = asyncapi()["components"]["messages"]
    for topic in ("intake.requests.v1", "disbursements.requests.v1"):
        [message] = [m for name, m in messages.items() if name.split(":", 1)[0] == topic]
        assert message["headers"]["required"] == ["x-signature-key-id", "x-signature-ed25519"]
        assert "correlationId" not in message


def test_bureaus_reach_the_external_listener_with_their_scram_user() -> None:
    document = json.loads(COMMITTED.read_text(encoding="utf-8"))
    external = document["servers"]["external"]
    assert external["security"] == [{"$ref": "#/components/securitySchemes/bureauUser"}]
    assert document["components"]["securitySchemes"]["bureauUser"]["type"] == "scramSha512"
    reachable = {
        channel["address"]
        for channel in document["channels"].values()
        if {"$ref": "#/servers/external"} in channel["servers"]
    }
    assert reachable == {"intake.requests.v1", "disbursements.requests.v1", "bureau.{bureau}.events.v1"}
