"""What the relay tells apart when something fails: an outage to wait out, a refusal no retry changes, a race."""

from __future__ import annotations

import re

from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError
from pymongo.errors import BulkWriteError, PyMongoError

from shared.contracts.topics import bureau_topic

OUTAGES = (KafkaError, PyMongoError, OSError)  # expected while a server is down: no traceback needed
# Refusals that no retry can change. ValueError: the event's stream type has no topic (topic_for).
UNPUBLISHABLE = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError, ValueError)
LEGAL_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")  # what Kafka accepts as a topic name


def only_duplicates(exc: BulkWriteError) -> bool:
    """Tell whether the store refused a numbering only because another sequencer took the positions (a race)."""
    return all(e.get("code") == 11000 for e in exc.details.get("writeErrors", [])) and not exc.details.get(
        "writeConcernErrors"
    )


def bureau_feed(bureau: str) -> str:
    """Return a bureau's feed topic; ValueError (refused for good: parked) when Kafka would refuse its name."""
    if not LEGAL_TOPIC.fullmatch(topic := bureau_topic(bureau)):
        raise ValueError(f"bureau {bureau!r} gives no legal Kafka topic name")
    return topic
