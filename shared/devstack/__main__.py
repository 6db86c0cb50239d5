"""`python -m shared.devstack run`: start the whole system in the foreground; Ctrl-C stops it."""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType

from shared.devstack.processes import Child
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
            if _restart_dead_servers(stack, restarts):
                return 1
            crashed = [name for name, child in stack.services.items() if not child.alive]
            if any(_crashing_again(stack.services[name], restarts, name) for name in crashed):
                return 1
            # Launched together, then awaited: several crashed services come back in one start's time.
            waits = [(name, stack.launch(name)) for name in crashed]
            for name, wait in waits:
                try:
                    wait(60.0)
                except (RuntimeError, TimeoutError) as exc:
                    # A restart that fails (its port taken a moment) or never answers (killed here) counts
                    # as one more crash at the next tick: the others keep running; the limit stops a loop.
                    print(f"{name} did not restart ({exc}): trying again", file=sys.stderr, flush=True)
                    stack.services[name].kill()
    except _Stop:
        return 0
    except Exception as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping ...", flush=True)
        stack.stop()
        print("stopped.", flush=True)


SERVER_LOST = {
    "kafka": "embedded Kafka (Tansu) exited; restarting it: its topics start empty, the relay republishes every "
    "event from the store and consumers skip what they handled",
    "mongodb": "embedded MongoDB (SecantusDB) exited; restarting it on the same data",
}


def _restart_dead_servers(stack: Stack, restarts: dict[str, list[float]]) -> bool:
    """Restart an embedded server that died (services answer 503 meanwhile); True when one keeps dying."""
    servers = (("kafka", stack.kafka), ("mongodb", stack.mongo))
    dead = {name: child for name, child in servers if child is not None and not child.alive}
    for name, child in dead.items():
        if _crashing_again(child, restarts, name):
            return True
        print(SERVER_LOST[name], file=sys.stderr, flush=True)
    if dead:
        try:
            stack.start_servers()
        except Exception as exc:
            print(f"the embedded server did not restart: {exc}", file=sys.stderr, flush=True)
    return False


def _crashing_again(child: Child, restarts: dict[str, list[float]], name: str) -> bool:
    """Note a crash of a process; tell whether it crashed five times within a minute (then stop)."""
    recent = [t for t in restarts.get(name, []) if time.monotonic() - t < 60]
    if len(recent) >= 4:  # this crash is the fifth within the minute
        print(f"{name} keeps crashing; see {child.log_path}. Stopping.", file=sys.stderr)
        return True
    code = child.proc.returncode if child.proc else "?"
    print(f"{name} exited ({code}); restarting", file=sys.stderr, flush=True)
    restarts[name] = [*recent, time.monotonic()]
    return False


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
