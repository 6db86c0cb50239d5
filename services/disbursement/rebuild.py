"""Rebuild the disbursement read models from the event store: `python -m services.disbursement.rebuild`.

It replays into shadow collections, swaps them in, then applies what was recorded during the replay
(version-guarded, so whatever the live consumer already applied is skipped). The service may keep running.
"""

from __future__ import annotations

import asyncio

from tqdm import tqdm

from services.disbursement.projections.rebuild import catch_up, replay_into, swap_in
from services.disbursement.projections.store import ReadModels, ReadModelWriter
from services.disbursement.settings import DisbursementSettings
from shared.eventstore.mongo import MongoRecorder
from shared.service import Mongo
from shared.workdays.published import PublishedCalendar as Calendars


async def main_async(settings: DisbursementSettings) -> int:
    """Replay every event into the shadow read models, swap them in, catch up; return the last position."""
    mongo = Mongo.from_settings(settings)
    try:
        recorder = MongoRecorder(mongo.client, mongo.db)
        calendar = Calendars(recorder).current
        with tqdm(unit="ev", desc="disbursement views") as bar:
            position = await replay_into(
                mongo.db, recorder, calendar, ReadModels.shadow(), progress=bar.update
            )
        await swap_in(mongo.db, ReadModels.shadow())
        return await catch_up(ReadModelWriter(mongo.db, recorder, calendar), recorder, position)
    finally:
        await mongo.client.close()


def main() -> None:
    """Rebuild with settings from the environment."""
    position = asyncio.run(main_async(DisbursementSettings()))
    print(f"rebuilt the disbursement read models up to position {position}")


if __name__ == "__main__":
    main()
