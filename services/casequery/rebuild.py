"""Rebuild the case view, the case stories and the case's money from the event store: `python -m services.casequery.rebuild`
(or `make rebuild`).

It replays into shadow collections and swaps them in, so readers keep the old view meanwhile; then it
catches up with events recorded during the replay. Memory stays flat: events are streamed in pages.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable

from pymongo.asynchronous.database import AsyncDatabase
from tqdm import tqdm

from services.casequery.projections.case_view import CASE_VIEW, CaseViews, ensure_view_indexes
from services.casequery.projections.money import CASE_MONEY
from services.casequery.projections.money_store import MongoCaseMoney, ensure_money_indexes
from services.casequery.projections.story_store import (
    CASE_STORY,
    CASE_STORY_BOARDS,
    CaseStories,
    ensure_story_indexes,
)
from services.casequery.settings import CaseQuerySettings
from shared.eventstore.mongo import MongoRecorder
from shared.service import Mongo


async def replay(
    views: CaseViews,
    recorder: MongoRecorder,
    after: int,
    page: int,
    bar: tqdm | None,
    stories: CaseStories | None = None,
    money: MongoCaseMoney | None = None,
) -> int:
    """Apply every event after a position in pages; return the last position applied."""
    position = after
    while batch := await recorder.read_all(position, page):
        cases = [e for e in batch if e.stream_type == "case"]  # the global order holds every stream
        if cases:
            await views.apply_batch(cases)
        if stories is not None:
            await stories.apply_batch(batch)  # it takes the board events and skips the rest
        if money is not None:
            await money.apply_batch(batch)  # it takes the disbursement events and skips the rest
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
    """Drop and replay the case view, the case stories and the case's money; return the last position replayed.

    The live consumer keeps writing the view throughout. Every view write is guarded by the stream
    version (see CaseViews), so the catch-up and the consumer may write the same case in any order and
    the view still ends at the newest version. `swapped` runs between the swap and the catch-up (tests
    use it to let live traffic get ahead of the catch-up).
    """
    names = (CASE_VIEW, CASE_STORY, CASE_STORY_BOARDS, CASE_MONEY)
    shadows = {name: db[f"{name}__rebuild"] for name in names}
    for shadow in shadows.values():
        await shadow.drop()
    head = await recorder.head_position()
    with tqdm(total=head, unit="ev", desc="case_view", disable=not progress) as bar:
        stories = CaseStories(shadows[CASE_STORY], shadows[CASE_STORY_BOARDS], recorder)
        money = MongoCaseMoney(shadows[CASE_MONEY])
        position = await replay(
            CaseViews(shadows[CASE_VIEW], recorder), recorder, 0, page, bar, stories, money
        )
        await ensure_view_indexes(
            shadows[CASE_VIEW]
        )  # after the load: building once is cheaper than keeping up
        await ensure_story_indexes(shadows[CASE_STORY])
        await ensure_money_indexes(shadows[CASE_MONEY])
        for name, shadow in shadows.items():
            if name == CASE_VIEW or await shadow.estimated_document_count():
                await shadow.rename(name, dropTarget=True)
            else:  # no board (or linked disbursement) events: a collection never created cannot be renamed
                await db[name].delete_many({})
        if swapped is not None:
            await swapped()
        # Events the live consumers applied to the old collections during the replay went with them: apply
        # them again.
        live = CaseStories(db[CASE_STORY], db[CASE_STORY_BOARDS], recorder)
        live_money = MongoCaseMoney(db[CASE_MONEY])
        position = await replay(
            CaseViews(db[CASE_VIEW], recorder), recorder, position, page, bar, live, live_money
        )
    return position


async def _main(progress: bool) -> None:
    settings = CaseQuerySettings()
    mongo = Mongo.from_settings(settings)
    try:
        replayed = await rebuild(mongo.db, MongoRecorder(mongo.client, mongo.db), progress=progress)
        print(f"case_view rebuilt from {replayed} events, with the case stories and the case's money")
    finally:
        await mongo.client.close()


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    asyncio.run(_main(progress=not parser.parse_args().no_progress))


if __name__ == "__main__":
    main()
