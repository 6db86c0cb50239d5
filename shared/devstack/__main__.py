"""`python -m shared.devstack run`: start the whole system in the foreground; Ctrl-C stops it."""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType

from shared.devstack.stack import Stack, StackConfig


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop()


def run() -> int:
    """Start everything, print where it runs, restart a crashed service, stop all on Ctrl-C/SIGTERM."""
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    stack = Stack(StackConfig.from_env())
    try:
        print("starting the 专责店小二 system ...", flush=True)
        stack.start()
        print("running:\n" + stack.summary() + "\nCtrl-C stops everything.", flush=True)
        restarts: dict[str, list[float]] = {}
        while True:
            time.sleep(1.0)
            for name, child in list(stack.services.items()):
                if not child.alive:
                    recent = [t for t in restarts.get(name, []) if time.monotonic() - t < 60]
                    if len(recent) >= 5:
                        print(f"{name} keeps crashing; see {child.log_path}. Stopping.", file=sys.stderr)
                        return 1
                    print(
                        f"{name} exited ({child.proc.returncode if child.proc else '?'}); restarting",
                        file=sys.stderr,
                        flush=True,
                    )
                    restarts[name] = [*recent, time.monotonic()]
                    stack.start_service(name)
    except _Stop:
        return 0
    except Exception as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping ...", flush=True)
        stack.stop()
        print("stopped.", flush=True)


def main() -> None:
    """Command-line entry point."""
    if sys.argv[1:] != ["run"]:
        print(
            "usage: python -m shared.devstack run   (configuration: see README, 'make run')", file=sys.stderr
        )
        raise SystemExit(2)
    raise SystemExit(run())


if __name__ == "__main__":
    main()
