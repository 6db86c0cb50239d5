"""Since when the deployment has had each outward channel configured (email, SMS, WeCom, DingTalk).

A channel configured today did not reach anyone yesterday: an event from before it was turned on is never told on
it, however late it is handled (a broker that lost its topics and was replayed, a new consumer group, a service
that restarts with an SMS gateway newly set). The inbox is always on and not kept here.

One document per channel in `notification_channels`: `on_since` is when the current unbroken time with the channel
configured began, or null while a start found it not configured. A channel configured at the first start that
keeps this record counts as on for ever before it (ALWAYS): a deployment upgraded with email or SMS long set, or
events that waited while the service restarted, are told on it as before. Instances of one deployment share one
configuration; an instance started without a channel ends that time for all.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

CHANNELS = "notification_channels"
ALWAYS = datetime(2000, 1, 1, tzinfo=UTC)  # on before the ledger was kept: counts for every event
OUTWARD = ("email", "sms", "wecom", "dingtalk")


class ChannelLedger:
    """Records when each outward channel was turned on, read once when the service starts."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._c = db[CHANNELS]

    async def opened(self, configured: set[str], now: datetime) -> dict[str, datetime]:
        """Note which outward channels this start has; return since when each configured one has been on."""
        for channel in OUTWARD:
            if channel in configured:
                # Kept if already on: the earliest start of this unbroken time wins, also between instances.
                await self._c.update_one(
                    {"_id": channel, "on_since": None}, {"$set": {"on_since": now}}, upsert=False
                )
                with contextlib.suppress(DuplicateKeyError):  # another instance inserted it at this moment
                    await self._c.update_one(
                        {"_id": channel}, {"$setOnInsert": {"on_since": ALWAYS}}, upsert=True
                    )
            else:
                await self._c.update_one({"_id": channel}, {"$set": {"on_since": None}}, upsert=True)
        found = self._c.find({"_id": {"$in": sorted(configured & set(OUTWARD))}})
        return {doc["_id"]: _aware(doc["on_since"]) async for doc in found if doc.get("on_since")}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # a client without tz_aware reads naive UTC
