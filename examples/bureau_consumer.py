"""Follow your bureau's event feed on Kafka, validate each event, and resume after a restart.

A copyable example for a bureau's own service: it needs confluent-kafka and jsonschema, and the published JSON
Schemas (`contracts/schemas/` of this repository, or as handed over) - nothing else of this project.

    python bureau_consumer.py --bootstrap kafka:9092 --bureau finance --schemas contracts/schemas \\
        --group finance-case-sync [--max-events N] [--idle-seconds S]

Each event is printed as one JSON line (position, stream, version, type, partition, offset) after it
validated; its offset is committed only then, so a consumer killed at any moment starts again after the last
event it finished (at least once: deduplicate by event_id).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jsonschema
from confluent_kafka import Consumer, KafkaError


def load_schemas(folder: Path) -> tuple[dict, dict[str, dict]]:
    """Return the envelope schema and each event's data schema by "Type.vN"."""
    envelope = json.loads((folder / "EventEnvelope.json").read_text(encoding="utf-8"))
    events = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.v*.json")}
    return envelope, events


def check(event: dict, envelope_schema: dict, data_schemas: dict[str, dict], bureau: str) -> None:
    """Raise if the event is not a valid envelope of this bureau with a valid payload (when its schema is known)."""
    jsonschema.validate(event, envelope_schema)
    if event["bureau"] != bureau:
        raise ValueError(f"event {event['event_id']} of bureau {event['bureau']} on {bureau}'s feed")
    schema = data_schemas.get(f"{event['event_type']}.v{event['schema_version']}")
    if schema is not None:
        jsonschema.validate(event["data"], schema)


def follow(args: argparse.Namespace) -> int:
    """Consume until max-events were handled or the feed stayed idle for idle-seconds; return the count."""
    envelope_schema, data_schemas = load_schemas(Path(args.schemas))
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "enable.auto.commit": False,  # commit after handling: a restart resumes after the last handled event
            "auto.offset.reset": "earliest",
            # Also the rebalance timeout a group join may wait for other members (the embedded Tansu waits it
            # out on every join): keep it to what one event's handling can take.
            "max.poll.interval.ms": args.max_poll_interval_ms,
            "session.timeout.ms": min(45_000, args.max_poll_interval_ms),
        }
    )
    # Idle time counts from the first assignment, not from subscribe: until the group join finishes (a broker
    # may hold it for the whole rebalance timeout) an empty poll says nothing about the feed. A join that never
    # finishes (broker unreachable) still ends the wait: after that timeout plus the idle time.
    handled, started = 0, time.monotonic()
    last_seen: float | None = None
    join_limit = args.max_poll_interval_ms / 1000 + args.idle_seconds

    def assigned(_consumer: Consumer, _partitions: list) -> None:
        nonlocal last_seen
        last_seen = time.monotonic()  # the partitions are ours (again, after a rebalance)

    def waiting() -> bool:
        if last_seen is None:
            return time.monotonic() - started < join_limit
        return time.monotonic() - last_seen < args.idle_seconds

    consumer.subscribe([f"bureau.{args.bureau}.events.v1"], on_assign=assigned)
    try:
        while handled < args.max_events and waiting():
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    continue
                if message.error().code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    # No topic yet: the relay creates a bureau's topic with its first event (again after the
                    # embedded broker restarted empty). Not an error: there is nothing to read yet.
                    print("the bureau's topic does not exist yet: waiting", file=sys.stderr, flush=True)
                    time.sleep(1)
                    continue
                raise RuntimeError(message.error())
            event = json.loads(message.value())
            check(event, envelope_schema, data_schemas, args.bureau)
            print(
                json.dumps(
                    {k: event[k] for k in ("event_id", "position", "stream_id", "version", "event_type")}
                    | {"partition": message.partition(), "offset": message.offset()}
                ),
                flush=True,
            )
            consumer.commit(message=message, asynchronous=False)
            handled, last_seen = handled + 1, time.monotonic()
    finally:
        consumer.close()
    if last_seen is None:
        print(f"no partitions were assigned within {join_limit:g} s", file=sys.stderr)
    return handled


def main() -> None:
    """Parse the arguments and follow the feed."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--bureau", required=True)
    parser.add_argument("--schemas", required=True, help="folder of the published JSON Schemas")
    parser.add_argument(
        "--group", required=True, help="your consumer group: its committed offsets are your cursor"
    )
    parser.add_argument("--max-events", type=int, default=sys.maxsize)
    parser.add_argument("--idle-seconds", type=float, default=float("inf"))
    parser.add_argument("--max-poll-interval-ms", type=int, default=300_000)
    print(f"handled {follow(parser.parse_args())} events", file=sys.stderr)


if __name__ == "__main__":
    main()
