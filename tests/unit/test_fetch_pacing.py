"""A consumer fetches with a short wait while records flow and a longer one once idle."""

from __future__ import annotations

import asyncio
import inspect
from types import SimpleNamespace

from aiokafka.consumer.fetcher import Fetcher

from shared.config import ConnectionSettings
from shared.messaging.pacing import FetchPacer, FetchWait


def _subscriber(wait_ms: int) -> SimpleNamespace:
    return SimpleNamespace(consumer=SimpleNamespace(_fetcher=SimpleNamespace(_fetch_max_wait_ms=wait_ms)))


async def test_records_make_the_wait_short_and_quiet_makes_it_long_again():
    wait = FetchWait(busy_ms=10, idle_ms=100, idle_after_s=0.05)
    subscriber = _subscriber(wait.idle)
    pacer = FetchPacer(wait, subscriber)
    assert pacer.current_ms() == 100  # a consumer starts idle

    pacer.saw_records()
    assert pacer.current_ms() == 10
    await asyncio.sleep(0.03)
    pacer.saw_records()  # records keep coming: the quiet spell starts again
    await asyncio.sleep(0.03)
    assert pacer.current_ms() == 10
    await asyncio.sleep(0.05)
    assert pacer.current_ms() == 100


async def test_an_idle_wait_never_shortens_the_busy_one_and_equal_waits_stay_fixed():
    assert FetchWait(busy_ms=500, idle_ms=100).idle == 500  # Apache Kafka: a long wait costs nothing
    assert FetchWait(busy_ms=20).idle == 20
    subscriber = _subscriber(20)
    FetchPacer(FetchWait(20), subscriber).saw_records()
    assert subscriber.consumer._fetcher._fetch_max_wait_ms == 20


async def test_a_consumer_not_started_yet_is_left_alone():
    pacer = FetchPacer(FetchWait(10, 100), SimpleNamespace(consumer=None))
    pacer.saw_records()
    assert pacer.current_ms() is None


def test_the_settings_give_both_waits():
    settings = ConnectionSettings(KAFKA_FETCH_MAX_WAIT_MS=15, KAFKA_FETCH_IDLE_WAIT_MS=200)
    assert settings.kafka_fetch_wait == FetchWait(15, 200)


def test_aiokafka_still_reads_the_wait_from_its_fetcher_for_every_request():
    # The pacer sets a private attribute: an aiokafka that stops reading it would leave every consumer idle-slow.
    assert "self._fetch_max_wait_ms" in inspect.getsource(Fetcher._get_actions_per_node)
