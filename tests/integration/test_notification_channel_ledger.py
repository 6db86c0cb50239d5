"""Since when each outward channel has been configured, kept across starts and instances of the service."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.notification.adapters.channel_ledger import ALWAYS, ChannelLedger

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


async def test_a_channel_counts_from_the_start_that_turned_it_on_until_a_start_without_it(
    mongo_db: AsyncDatabase,
) -> None:
    ledger = ChannelLedger(mongo_db)
    # The first start that keeps the ledger: email was configured before it (an upgrade), SMS is not.
    assert await ledger.opened({"inbox", "email"}, T0) == {"email": ALWAYS}
    later = T0 + timedelta(days=3)
    assert await ledger.opened({"inbox", "email", "sms"}, later) == {"email": ALWAYS, "sms": later}
    await ledger.opened({"inbox", "email"}, later + timedelta(days=1))  # a start without the SMS gateway
    again = later + timedelta(days=2)
    assert await ledger.opened({"inbox", "email", "sms"}, again) == {"email": ALWAYS, "sms": again}


async def test_instances_starting_together_agree_on_when_a_channel_was_turned_on(
    mongo_db: AsyncDatabase,
) -> None:
    starts = [ChannelLedger(mongo_db).opened({"sms"}, T0 + timedelta(seconds=i)) for i in range(4)]
    seen = await asyncio.gather(*starts)
    assert len({answer["sms"] for answer in seen}) == 1
