"""What the routes find on the app (put there by bootstrap): ports, read models, the calendar, settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from fastapi import Request
from pymongo.asynchronous.database import AsyncDatabase

from services.disbursement.adapters.bank_references import BankReferences, MemoryBankReferences
from services.disbursement.application.commands import stuck_after_workdays
from services.disbursement.projections.dashboard import stuck_cutoff
from services.disbursement.projections.store import LIVE, NamesNow, pinned
from shared.auth.keys import Bureau
from shared.eventstore.recorder import EventRecorder
from shared.workdays.calendar import SHANGHAI
from shared.workdays.published import PublishedCalendar as Calendars


class KnownBureaus(Protocol):
    """Port: which bureaus are registered (BureauDirectory, or a fake)."""

    async def exists(self, bureau_id: str) -> bool:
        """Tell whether a bureau is registered."""
        ...


class Bureaus(KnownBureaus, Protocol):
    """Port: the registered bureaus and their names."""

    async def get(self, bureau_id: str) -> Bureau | None:
        """Return a bureau by id."""
        ...


@dataclass
class Services:
    """The service's ports and settings, one object on app.state."""

    recorder: EventRecorder
    db: AsyncDatabase
    calendars: Calendars
    bureaus: Bureaus
    default_stuck_after_workdays: int
    report_max_rows: int
    names: NamesNow = field(default_factory=lambda: pinned(LIVE))  # the generation in use, resolved per use
    bank_references: BankReferences = field(default_factory=MemoryBankReferences)  # bootstrap: Mongo's

    @classmethod
    def of(cls, request: Request) -> Services:
        """Return the services of the app handling the request."""
        services: Services = request.app.state.services
        return services

    async def stuck_after(self, bureau: str) -> int:
        """The bureau's N (working days without a stage change that make a disbursement stuck)."""
        return await stuck_after_workdays(bureau, self.default_stuck_after_workdays, recorder=self.recorder)

    async def stuck_before(self, bureau: str) -> datetime:
        """The moment before which a last change makes a disbursement of the bureau stuck."""
        today = datetime.now(UTC).astimezone(SHANGHAI).date()
        return stuck_cutoff(await self.calendars.current(), today, await self.stuck_after(bureau))
