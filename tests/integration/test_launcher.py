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
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.devstack.processes import free_port, wait_until
from shared.devstack.stack import SERVICES, http_ok

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


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, int], Path]]:
    ports = {s.name: free_port() for s in SERVICES}
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path),
        "KAFKA_PORT": str(free_port()),
        "MONGODB_PORT": str(free_port()),
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
            yield launcher, ports, log
        finally:
            launcher.send_signal(signal.SIGINT)
            launcher.wait(60)


def test_services_killed_together_come_back_and_a_restart_that_fails_is_retried(launched) -> None:
    launcher, ports, log = launched
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
