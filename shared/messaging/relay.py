"""Outbox relay: every event in the store reaches Kafka at least once, key = stream id.

Progress (the last relayed global position and the next offset the broker gave per partition) is
kept in MongoDB after the broker acknowledged a batch. If the broker comes back without those messages
(the embedded Tansu keeps them only in memory), the offsets it hands out go backwards: the relay
notices, on its next batch or on an idle-time heartbeat record, and republishes from the start;
consumers drop the repeats by event id. (Tansu's ListOffsets answers are not high watermarks, so the
check rests on produce acknowledgements, which are exact on every broker.)

One instance publishes at a time: it holds a lease on the checkpoint document, and every checkpoint
save is fenced by that lease, so a second instance stands by instead of publishing everything again.
An event the broker refuses for good (too large, no topic) is parked in `relay_parked` and the relay
goes on: one bad event must not hold back every bureau's events behind it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from pymongo.errors import BulkWriteError, PyMongoError

from shared.contracts.envelope import EventEnvelope
from shared.contracts.topics import RELAY_HEARTBEAT, bureau_topic, topic_for
from shared.eventstore.mongo import MongoRecorder
from shared.eventstore.sequencer import LeaseLost, Sequencer
from shared.eventstore.watch import AppendWatcher
from shared.messaging.kafka import envelope_headers
from shared.messaging.relay_faults import LEGAL_TOPIC, OUTAGES, UNPUBLISHABLE, bureau_feed, only_duplicates
from shared.messaging.relay_records import (  # noqa: F401 (re-exported: the relay's records)
    CHECKPOINTS,
    PARKED,
    BrokerLostMessages,
    Checkpoint,
    CheckpointStore,
    ParkedEvents,
    PublisherLeaseLost,
    RelayStatus,
    advance,
)
from shared.metrics import metrics

log = logging.getLogger(__name__)


class OutboxRelay:
    """Sequences new events, publishes them in global order, then saves progress."""

    def __init__(
        self,
        *,
        recorder: MongoRecorder,
        sequencer: Sequencer,
        checkpoints: CheckpointStore,
        producer: AIOKafkaProducer,
        parked: ParkedEvents,
        batch_size: int = 500,
        on_broker_reset: Callable[[], Awaitable[None]] | None = None,
        ensure_topic: Callable[[str], Awaitable[None]] | None = None,
        checkpoint_every_s: float = 1.0,
        linger_s: float = 0.0,
    ) -> None:
        self._recorder = recorder
        self._sequencer = sequencer
        self._checkpoints = checkpoints
        self._producer = producer
        self._parked = parked
        self._batch_size = batch_size
        self._on_broker_reset = on_broker_reset
        # Given: every event also goes to its bureau's own feed topic, created on first use.
        self._ensure_topic = ensure_topic
        self._known_topics: set[str] = set()
        self._tracked: set[str] = set()  # topics the producer's metadata refreshes cover
        self._cached: Checkpoint | None = None
        self._checkpoint_every_s = checkpoint_every_s
        self._linger_s = linger_s
        self._unsaved = False
        self._saved_at = 0.0
        self.status = RelayStatus()

    @property
    def sequenced_head(self) -> int | None:
        """Return the highest position this process numbered (None before its first round)."""
        return self._sequencer.head

    @property
    def published_total(self) -> int:
        """Return how many events this process published."""
        return self.status.published

    async def step(self) -> int:
        """Sequence and publish one batch if this instance holds the publisher lease; return how many."""
        if not await self._checkpoints.hold():
            self._stand_by()
            return 0
        if self.status.state != "active":
            log.info("relay %s holds the publisher lease: publishing", self._checkpoints.owner)
            self.status.state = "active"
            self.status.last_progress = time.monotonic()  # its stall clock starts when it takes over
        head_before = self._sequencer.head
        try:
            await self._sequencer.sequence_once()
        except (LeaseLost, BulkWriteError) as exc:
            if isinstance(exc, BulkWriteError) and not only_duplicates(exc):
                raise  # refused for another reason: counted, reported on /healthz and retried by the loop
            # The previous holder's sequencer lease has not expired yet: publish what is numbered.
            log.info("the sequencer lease is still held elsewhere; publishing what is sequenced")
        checkpoint = await self._checkpoint()
        if self._sequencer.head is not None:
            # Numbered, not yet published: the lag this batch is about to work off (a full sequencer batch
            # means more are waiting unnumbered, so this is a floor when the relay falls behind).
            metrics().relay_lag.set(max(self._sequencer.head - checkpoint.position, 0))
        events = await self._next_events(checkpoint, head_before)
        if not events:
            self.status.last_progress = time.monotonic()
            metrics().relay_lag.set(0)
            await self._save_checkpoint(checkpoint, force=True)  # idle: make the progress durable now
            return 0
        try:
            produced = await self._publish(events, checkpoint)
        except BrokerLostMessages as exc:
            await self._restart_from_zero(str(exc))
            return 0
        except BaseException:
            self._cached = None  # partly advanced in memory: reload the saved truth
            raise
        checkpoint.position = events[-1].position or checkpoint.position
        self._unsaved = True
        try:
            await self._save_checkpoint(checkpoint)
        except PublisherLeaseLost:
            self._stand_by()  # published, not saved: the new holder publishes these again (at least once)
            return 0
        self.status.published += len(events)
        self.status.last_progress = time.monotonic()
        for topic, records in produced.items():
            metrics().kafka_produced.labels(topic).inc(records)
        if self._sequencer.head is not None:
            metrics().relay_lag.set(max(self._sequencer.head - checkpoint.position, 0))
        return len(events)

    def _numbered_already(self, inserted: set[str]) -> bool:
        # A round numbers everything pending, including events inserted after its wake-up; the change stream
        # then reports those too. A wake-up for them alone would only find nothing pending.
        return bool(inserted) and inserted <= self._sequencer.handled

    async def _next_events(self, checkpoint: Checkpoint, head_before: int | None) -> list[EventEnvelope]:
        numbered = self._sequencer.numbered
        if not numbered and self._sequencer.head is not None and checkpoint.position >= self._sequencer.head:
            return []  # caught up with the head this process moved: nothing to read
        if numbered and head_before is not None and checkpoint.position == head_before:
            # Caught up before this batch: the events to publish are exactly the ones just numbered, as
            # stored. Publishing them from memory saves reading them back.
            return numbered[: self._batch_size]
        return await self._recorder.read_all(
            checkpoint.position, self._batch_size, up_to=self._sequencer.head
        )

    async def _save_checkpoint(self, checkpoint: Checkpoint, *, force: bool = False) -> None:
        # Saved at most every `checkpoint_every_s` while events flow, and whenever the relay is idle or
        # stops: a crash republishes at most that window, which consumers drop by event id and version.
        if not self._unsaved or (not force and time.monotonic() - self._saved_at < self._checkpoint_every_s):
            return
        await self._checkpoints.save(checkpoint)
        self._unsaved, self._saved_at = False, time.monotonic()

    async def flush(self) -> None:
        """Move the head and save progress not written yet (at shutdown, before giving up the leases)."""
        await self._sequencer.flush_head()  # a no-op unless this process moved it (fenced like every move)
        if self._cached is not None:
            await self._save_checkpoint(self._cached, force=True)

    def _stand_by(self) -> None:
        if self.status.state != "standby":
            log.info("another relay instance holds the publisher lease: standing by")
        self.status.state = "standby"
        self._cached = None  # the holder moves the checkpoint meanwhile: read it again on taking over
        self._unsaved = False

    def _topics_of(self, e: EventEnvelope) -> list[str]:
        topics = [topic_for(e.stream_type)]
        if self._ensure_topic is not None:
            topics.append(bureau_feed(e.bureau))
        return topics

    async def _ensure_bureau_topics(self, events: list[EventEnvelope]) -> None:
        if self._ensure_topic is None:
            return
        feeds = {bureau_topic(e.bureau) for e in events}
        for topic in sorted({t for t in feeds if LEGAL_TOPIC.fullmatch(t)} - self._known_topics):
            await self._ensure_topic(topic)
            self._known_topics.add(topic)

    async def _publish(self, events: list[EventEnvelope], checkpoint: Checkpoint) -> Counter[str]:
        """Publish the events, park the ones refused for good; return the records acknowledged per topic."""
        await self._ensure_bureau_topics(events)
        sent: list[tuple[EventEnvelope, str, asyncio.Future[RecordMetadata]]] = []
        refused: dict[uuid.UUID, tuple[EventEnvelope, BaseException]] = {}
        produced: Counter[str] = Counter()
        for e in events:
            try:
                # Inside the try: no topic for its stream type (or bureau) is refused for good, as too large.
                for topic in self._topics_of(e):
                    sent.append((e, topic, await self._send(e, topic)))
            except UNPUBLISHABLE as exc:  # refused before it left this process
                refused.setdefault(e.event_id, (e, exc))
        outcomes = await asyncio.gather(*(f for _, _, f in sent), return_exceptions=True)
        batch_refused: list[tuple[EventEnvelope, str]] = []
        failed: list[tuple[EventEnvelope, str, BaseException]] = []
        for (e, topic, _), outcome in zip(sent, outcomes, strict=True):
            if isinstance(outcome, UNPUBLISHABLE):
                batch_refused.append((e, topic))
            elif isinstance(outcome, BaseException):
                failed.append((e, topic, outcome))
            else:
                advance(checkpoint, outcome)
                produced[topic] += 1
        if failed:
            later = {e.event_id for e, _ in batch_refused} | set(refused)  # not settled either
            await self._fail_after_saving_what_was_acknowledged(events, failed, later, checkpoint)
        # The broker refuses a whole producer batch: send those one by one so only the culprit is parked.
        for e, topic in batch_refused:
            try:
                advance(checkpoint, await (await self._send(e, topic)))
                produced[topic] += 1
            except UNPUBLISHABLE as again:
                refused.setdefault(e.event_id, (e, again))
        for e, why in refused.values():
            await self._park(e, why)
        return produced

    async def _fail_after_saving_what_was_acknowledged(
        self,
        events: list[EventEnvelope],
        failed: list[tuple[EventEnvelope, str, BaseException]],
        unsettled: set[uuid.UUID],
        checkpoint: Checkpoint,
    ) -> NoReturn:
        # The retry starts again from the saved checkpoint. Save it up to the last event before the first one
        # not acknowledged on every topic, so that the retry republishes from there, not from the last periodic
        # save: every event acknowledged since would come again (at least once, but needlessly often).
        unsettled |= {e.event_id for e, _, _ in failed}
        for e in events:
            if e.event_id in unsettled:
                break
            checkpoint.position = e.position or checkpoint.position
        self._unsaved = True
        try:
            await self._save_checkpoint(checkpoint, force=True)
        except (PublisherLeaseLost, PyMongoError) as exc:  # the retry republishes from the older save
            log.warning("relay: progress up to the failed send not saved (%r)", exc)
        first, topic, error = failed[0]
        log.warning("relay: event at position %s not acknowledged on %s: %r", first.position, topic, error)
        raise error

    async def _track(self, topic: str) -> None:
        # aiokafka refreshes its metadata for the topics it was asked to track only. A topic it knows from its
        # start-up metadata alone (every topic then) drops out when another one is first tracked, and a record
        # waiting for it stalls every publication until it expires (40 s) with NotLeaderForPartitionError. So
        # track each topic before its first record.
        if topic not in self._tracked:
            await self._producer.client.add_topic(topic)
            self._tracked.add(topic)

    async def _send(self, e: EventEnvelope, topic: str) -> asyncio.Future[RecordMetadata]:
        await self._track(topic)
        future: asyncio.Future[RecordMetadata] = await self._producer.send(
            topic,
            value=e.model_dump_json().encode(),
            key=e.stream_id.encode(),
            headers=envelope_headers(e),
        )
        return future

    async def _park(self, e: EventEnvelope, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        log.error(
            "relay: event %s (%s, stream %s, position %s) cannot be published and is parked in"
            " relay_parked: %s",
            e.event_id,
            e.event_type,
            e.stream_id,
            e.position,
            reason,
        )
        await self._parked.park(e, reason)
        self.status.parked += 1

    async def _checkpoint(self) -> Checkpoint:
        # This relay is the only writer of its checkpoint while it holds the lease: read once, then keep it.
        if self._cached is None:
            self._cached = await self._checkpoints.load()
        return self._cached

    async def verify_broker_kept_messages(self) -> None:
        """Write a heartbeat record; if its offset went backwards the broker lost messages: republish all."""
        if self.status.state != "active":
            return
        checkpoint = await self._checkpoint()
        await self._track(RELAY_HEARTBEAT)
        meta = await self._producer.send_and_wait(RELAY_HEARTBEAT, b"", partition=0)
        try:
            advance(checkpoint, meta)
        except BrokerLostMessages as exc:
            await self._restart_from_zero(str(exc))
            return
        try:
            await self._checkpoints.save(checkpoint)
        except PublisherLeaseLost:
            self._stand_by()

    async def _restart_from_zero(self, reason: str) -> None:
        log.warning(
            "broker lost acknowledged messages (%s): republishing every event from position 0", reason
        )
        metrics().relay_broker_resets.inc()  # worth an alert: every consumer sees every event again
        if self._on_broker_reset:
            await self._on_broker_reset()  # e.g. create the topics again with their configured partitions
        self._known_topics.clear()  # the bureaus' feed topics too, on their next event
        self._cached = Checkpoint()
        await self._checkpoints.save(self._cached)
        self._unsaved, self._saved_at = False, time.monotonic()

    async def run(self, watcher: AppendWatcher, stop: asyncio.Event, idle_check_s: float = 2.0) -> None:
        """Relay until stop is set; any failure is logged, backed off and retried, never fatal."""
        backoff = 0.1
        checked = time.monotonic()  # when the broker last proved it kept what it acknowledged
        try:
            while not stop.is_set():
                try:
                    published = await self.step()
                    backoff = 0.1
                    if published:
                        checked = time.monotonic()  # its acknowledgements just checked the offsets
                    if published >= self._batch_size:
                        continue  # a full batch: more may be waiting
                    # A short batch or none: wait for the next append (the flag may already be set), then
                    # linger a moment: appends of one decision (a board event and its case's event) come a
                    # round trip apart and then go out in one round.
                    woken = await watcher.wait(timeout=0.5)
                    if woken and self._numbered_already(watcher.take_inserted()):
                        # Only inserts this process numbered in its last round: wait for news instead of a
                        # round that would find nothing pending.
                        woken = await watcher.wait(timeout=0.5)
                    if woken and self._linger_s:
                        await asyncio.sleep(self._linger_s)
                    if not published and time.monotonic() - checked >= idle_check_s:
                        # Idle: only a record of our own tells whether the broker lost messages meanwhile.
                        checked = time.monotonic()
                        await self.verify_broker_kept_messages()
                except Exception as exc:
                    # Anything else (a bug, a topic that cannot be created after a broker restart, ...)
                    # must not end the loop for good: log it with its traceback and try again.
                    self._cached = None
                    self._unsaved = False
                    self.status.errors += 1
                    self.status.last_error = f"{type(exc).__name__}: {exc}"
                    if isinstance(exc, OUTAGES):
                        log.warning("relay paused (%s); retrying in %.1fs", self.status.last_error, backoff)
                    else:
                        log.exception("relay step failed unexpectedly; retrying in %.1fs", backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    checked = 0.0  # check the broker's offsets as soon as it answers again
        finally:
            self.status.state = "stopped"

    async def stand_down(self) -> None:
        """Give up the publisher lease at shutdown so a standby instance takes over at once."""
        await self._checkpoints.release()

    async def kafka_metadata(self) -> None:
        """Fetch the cluster's metadata through the producer (a health check of the connection)."""
        await self._producer.client.fetch_all_metadata()

    def health(self) -> dict[str, Any]:
        """Return the loop's status for /healthz."""
        s = self.status
        return {
            "state": s.state,
            "published": s.published,
            "parked_by_this_process": s.parked,
            "errors": s.errors,
            "last_error": s.last_error,
            "seconds_since_progress": round(s.seconds_since_progress(), 1),
        }
