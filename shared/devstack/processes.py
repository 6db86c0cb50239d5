"""Child processes that die with their parent and stop cleanly in order."""

from __future__ import annotations

import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_PDEATHSIG = 1


_handed_out: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    # Outgoing connections take their local port from this range; a port picked there can be taken
    # by any client socket between the pick and the bind (CI saw a relay lose its port that way).
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port free right now on host, outside the ephemeral range and not handed out before."""
    low, high = _ephemeral_range()
    pool = [p for p in range(15000, 32000) if not low <= p <= high] or list(range(high + 1, 65535))
    for _ in range(200):
        port = random.choice(pool)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free TCP port outside the ephemeral range")


def port_open(host: str, port: int) -> bool:
    """Tell whether something accepts connections on host:port."""
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll predicate until true or raise TimeoutError naming what was awaited."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def _die_with_parent() -> None:
    # Linux: the kernel sends SIGTERM to the child when the launcher dies, even by SIGKILL: no orphans.
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setpgrp()  # own process group: the terminal's Ctrl-C reaches the launcher, which stops us in order


@dataclass
class Child:
    """A named child process with its log file."""

    name: str
    argv: Sequence[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Child:
        """Start the process, appending its output to the log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            list(self.argv), env=self.env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )
        log.close()
        return self

    @property
    def alive(self) -> bool:
        """Tell whether the process is running."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Send SIGTERM, wait, then SIGKILL what is left."""
        if not self.alive:
            return
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def kill(self) -> None:
        """Kill at once (SIGKILL), as a crash would."""
        if self.alive:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(5)

    def tail(self, lines: int = 30) -> str:
        """Return the last lines of the child's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""
