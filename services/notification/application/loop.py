"""The service's scheduled round, run every tick: fire due ladder steps, then send due deliveries."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from services.notification.application.context import Notifying
from services.notification.application.dispatch import Dispatcher
from services.notification.application.scheduled import fire_due_steps

log = logging.getLogger(__name__)


@dataclass
class LoopHealth:
    """What /healthz shows of the round: when it last ran clean, and the last error if the latest failed."""

    rounds: int = 0
    last_ok: datetime | None = None
    last_error: str | None = None
    errors: int = 0
    details: dict[str, int] = field(default_factory=dict)


async def run_round(notifying: Notifying, dispatcher: Dispatcher) -> tuple[int, int]:
    """Fire due steps and send what is due; return (steps fired, deliveries claimed)."""
    fired = await fire_due_steps(notifying)
    sent = await dispatcher.run_once()
    return fired, sent


async def run_forever(notifying: Notifying, dispatcher: Dispatcher, every: float, health: LoopHealth) -> None:
    """Run rounds until cancelled; a failed round is reported on /healthz and the next one retries."""
    while True:
        try:
            await run_round(notifying, dispatcher)
            health.rounds += 1
            health.last_ok, health.last_error = notifying.clock(), None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Timers and deliveries are data: the next round picks up where this one stopped.
            health.errors += 1
            health.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("notification round failed")
        await asyncio.sleep(every)
