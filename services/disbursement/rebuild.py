"""Rebuild the disbursement read models from the event store: `python -m services.disbursement.rebuild`.

It replays into the next generation of the read models beside the ones in use, moves the generation pointers
(nothing is renamed or copied), waits until every live writer has moved, applies what was recorded during the
replay (version-guarded, so whatever the live consumer already applied is skipped) and drops the old
generation. The service may keep running; readers see the old figures until the pointers move. One rebuild at
a time (shared/readmodels/lease.py): a second one exits with status 1 naming the holder; one killed after its
flip is completed by the running service once its lease lapses (shared/readmodels/watch.py) or by the next
run.
"""

from __future__ import annotations

import asyncio
import sys

from tqdm import tqdm

from services.disbursement.projections.rebuild import rebuild
from services.disbursement.projections.store import POINTERS
from services.disbursement.settings import DisbursementSettings
from shared.eventstore.mongo import MongoRecorder
from shared.readmodels.generations import Generations
from shared.readmodels.lease import LeaseUnreadable, RebuildAbandoned, RebuildRunning
from shared.service import Mongo
from shared.workdays.published import PublishedCalendar as Calendars


async def main_async(settings: DisbursementSettings) -> int:
    """Rebuild the read models into a new generation and point at it; return the last position applied."""
    mongo = Mongo.from_settings(settings)
    try:
        recorder = MongoRecorder(mongo.client, mongo.db)
        calendar = Calendars(recorder).current
        with tqdm(unit="ev", desc="disbursement views") as bar:
            return await rebuild(
                mongo.db, recorder, calendar, Generations(mongo.db, POINTERS), progress=bar.update
            )
    finally:
        await mongo.client.close()


def main() -> None:
    """Rebuild with settings from the environment."""
    try:
        position = asyncio.run(main_async(DisbursementSettings()))
    except (RebuildRunning, RebuildAbandoned) as exc:
        sys.exit(str(exc))  # exit status 1, the reason on stderr
    except LeaseUnreadable as exc:  # a hand-edited lease document: what to mend, not a traceback
        sys.exit(exc.refusal())
    print(f"rebuilt the disbursement read models up to position {position}")


if __name__ == "__main__":
    main()
