"""`make run`'s launcher, as a user runs it: services killed together come back, and a restart that fails
(its port taken for a moment) is retried while the rest of the system keeps running."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pymongo import MongoClient

from shared.contracts.envelope import Actor, EventEnvelope
from shared.devstack.processes import free_port, wait_until
from shared.devstack.stack import SERVICES, http_ok
from shared.eventstore.mongo import EVENTS, to_document

pytestmark = pytest.mark.integration


def _healthy(port: int) -> bool:
    return http_ok(f"http://127.0.0.1:{port}/healthz")


def _wait(predicate, timeout: float, what: str) -> None:
    wait_until(predicate, timeout, what, interval=0.2)


def _child_running(launcher: int, module: str) -> int | None:
    """Return the pid of the launcher's child running `python -m module`, if any."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == launcher and module.encode() in cmdline:
            return int(entry.name)
    return None


def _park_an_event(mongo_port: int) -> None:
    """Write a pending event whose stream type has no topic, as a hand-written document would: parked."""
    now = datetime.now(UTC)
    event = EventEnvelope(
        event_id=uuid.uuid4(),
        event_type="Tested",
        schema_version=1,
        stream_id=f"s-{uuid.uuid4().hex[:6]}",
        stream_type="spaceship",
        version=1,
        bureau="finance",
        occurred_at=now,
        recorded_at=now,
        actor=Actor(kind="service", id="test"),
        correlation_id=uuid.uuid4(),
        data={},
    )
    with MongoClient(f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true") as client:
        client["concierge"][EVENTS].insert_one(to_document(event, f"test:{uuid.uuid4()}", 0))


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, int], Path]]:
    ports = {s.name: free_port() for s in SERVICES}
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path),
        "KAFKA_PORT": str(free_port()),
        "MONGODB_PORT": str(mongo_port := free_port()),
        "SEED_PEOPLE": "0",
        "LOG_LEVEL": "WARNING",
        **{f"{s.env_prefix}PORT": str(ports[s.name]) for s in SERVICES},
    }
    log = tmp_path / "launcher.log"
    with log.open("w") as out:
        command = [sys.executable, "-m", "shared.devstack", "run"]
        launcher = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            _wait(lambda: "running:" in log.read_text(), 90, f"the launcher's table (log: {log})")
            yield launcher, {**ports, "mongodb": mongo_port}, log, env
        finally:
            launcher.send_signal(signal.SIGINT)
            launcher.wait(60)


def test_services_killed_together_come_back_and_a_restart_that_fails_is_retried(launched) -> None:
    launcher, ports, log, _ = launched
    for module in ("services.casequery", "services.notification"):
        pid = _child_running(launcher.pid, module)
        assert pid, f"no {module} child of the launcher"  # never os.kill(0): that is our own process group
        os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    squatter = socket.socket()  # takes notification's port the moment it is free: its restart fails
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    _wait(lambda: _bound(squatter, ports["notification"]), 10, "notification's port, free")
    try:
        _wait(lambda: _healthy(ports["casequery"]), 60, "case query back")
        # Its API serves while its consumer groups let it back in (the dead member's session lapses: ~20 s),
        # and its /healthz says so until they have.
        assert time.monotonic() - killed < 12
        assert _consumers(ports["casequery"]) == "joining"
        _wait(lambda: "notification did not restart" in log.read_text(), 60, "a failed restart")
        assert launcher.poll() is None  # before: "cannot start", and the whole system stopped
        assert _healthy(ports["intake"]) and _healthy(ports["assignment"])  # the rest still serves
    finally:
        squatter.close()
    _wait(lambda: _healthy(ports["notification"]) and _healthy(ports["casequery"]), 90, "both services back")
    _wait(
        lambda: _consumers(ports["casequery"]) == "running", 60, "case query's consumers back in their groups"
    )
    assert launcher.poll() is None


def _consumers(port: int) -> str | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
        return json.load(answer).get("consumers")


def _bound(sock: socket.socket, port: int) -> bool:
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    sock.listen()
    return True


def test_the_system_starts_again_while_an_event_is_parked(launched, tmp_path: Path) -> None:
    launcher, ports, _, env = launched
    _park_an_event(ports["mongodb"])
    # The relay's /healthz answers 503 for the parked event (an alarm for an operator), by design
    _wait(lambda: _answers(ports["relay"]) == 503, 30, "relay /healthz 503 for a parked event")
    launcher.send_signal(signal.SIGINT)
    assert launcher.wait(60) == 0
    # Started again on the same data, the launcher takes the relay's answer for started, as compose does
    # (`service_started`): before, it waited 60 s for a 200 and stopped everything ("cannot start").
    again = tmp_path / "again.log"
    with again.open("w") as out:
        command = [sys.executable, "-m", "shared.devstack", "run"]
        second = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            _wait(
                lambda: "running:" in again.read_text() or second.poll() is not None,
                90,
                "the launcher's table",
            )
            assert second.poll() is None, again.read_text()
            assert _answers(ports["relay"]) == 503 and _healthy(ports["gateway"])
        finally:
            second.send_signal(signal.SIGINT)
            second.wait(60)


def _answers(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code
    except OSError:
        return None
