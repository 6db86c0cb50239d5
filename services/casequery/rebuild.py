"""Rebuild the case view from the event store: `python -m services.casequery.rebuild` (or `make rebuild`).

It replays into a shadow collection and swaps it in, so readers keep the old view meanwhile; then it
catches up with events recorded during the replay. Memory stays flat: events are streamed in pages.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable

from pymongo.asynchronous.database import AsyncDatabase
from tqdm import tqdm

from services.casequery.projections.case_view import CASE_VIEW, CaseViews, ensure_view_indexes
from services.casequery.settings import CaseQuerySettings
from shared.eventstore.mongo import MongoRecorder
from shared.service import Mongo


async def replay(views: CaseViews, recorder: MongoRecorder, after: int, page: int, bar: tqdm | None) -> int:
    """Apply every event after a position in pages; return the last position applied."""
    position = after
    while batch := await recorder.read_all(position, page):
        cases = [e for e in batch if e.stream_type == "case"]  # the global order holds every stream
        if cases:
            await views.apply_batch(cases)
        position = batch[-1].position or position
        if bar is not None:
            bar.update(len(batch))
    return position


async def rebuild(
    db: AsyncDatabase,
    recorder: MongoRecorder,
    *,
    page: int = 2000,
    progress: bool = True,
    swapped: Callable[[], Awaitable[object]] | None = None,
) -> int:
    """Drop and replay the case view; return the number of events replayed.

    The live consumer keeps writing the view throughout. Every view write is guarded by the stream
    version (see CaseViews), so the catch-up and the consumer may write the same case in any order and
    the view still ends at the newest version. `swapped` runs between the swap and the catch-up (tests
    use it to let live traffic get ahead of the catch-up).
    """
    shadow = db[f"{CASE_VIEW}__rebuild"]
    await shadow.drop()
    head = await recorder.head_position()
    with tqdm(total=head, unit="ev", desc="case_view", disable=not progress) as bar:
        position = await replay(CaseViews(shadow, recorder), recorder, 0, page, bar)
        await ensure_view_indexes(shadow)  # after the load: building once is cheaper than keeping up
        await shadow.rename(CASE_VIEW, dropTarget=True)
        if swapped is not None:
            await swapped()
        # Events the live consumer applied to the old view during the replay went with it: apply them again.
        position = await replay(CaseViews(db[CASE_VIEW], recorder), recorder, position, page, bar)
    return position


async def _main(progress: bool) -> None:
    settings = CaseQuerySettings()
    mongo = Mongo.from_settings(settings)
    try:
        replayed = await rebuild(mongo.db, MongoRecorder(mongo.client, mongo.db), progress=progress)
        print(f"case_view rebuilt from {replayed} events")
    finally:
        await mongo.client.close()


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    asyncio.run(_main(progress=not parser.parse_args().no_progress))


if __name__ == "__main__":
    main()
