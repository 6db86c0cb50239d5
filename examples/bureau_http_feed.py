"""Follow your bureau's event feed over HTTP (no Kafka needed), validate each event, and resume after a restart.

A copyable example for a bureau's own service: it needs httpx and jsonschema, and the published JSON Schemas
(`contracts/schemas/` of this repository, or as handed over) - nothing else of this project.

    python bureau_http_feed.py --url https://gateway.example --key <your bureau's key> --schemas contracts/schemas \\
        --cursor-file finance.cursor [--max-events N] [--idle-seconds S]

`GET /api/v1/feed?after=<cursor>&wait=<s>` answers your bureau's events after the cursor (the global position)
and the next cursor. The cursor is saved after each page is handled, so a restart misses nothing (at least
once: deduplicate by event_id).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx
import jsonschema


def load_schemas(folder: Path) -> tuple[dict, dict[str, dict]]:
    """Return the envelope schema and each event's data schema by "Type.vN"."""
    envelope = json.loads((folder / "EventEnvelope.json").read_text(encoding="utf-8"))
    events = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.v*.json")}
    return envelope, events


def follow(args: argparse.Namespace) -> int:
    """Read pages until max-events were handled or the feed stayed idle for idle-seconds; return the count."""
    envelope_schema, data_schemas = load_schemas(Path(args.schemas))
    cursor_file = Path(args.cursor_file)
    cursor = int(cursor_file.read_text()) if cursor_file.exists() else 0
    handled, last_seen = 0, time.monotonic()
    with httpx.Client(base_url=args.url, headers={"Authorization": f"Bearer {args.key}"}, timeout=40) as http:
        while handled < args.max_events and time.monotonic() - last_seen < args.idle_seconds:
            answer = http.get("/api/v1/feed", params={"after": cursor, "limit": 100, "wait": args.wait})
            if answer.status_code in (429, 503):
                time.sleep(float(answer.headers.get("Retry-After", "1")))
                continue
            if answer.status_code == 409:  # the stored cursor is past this store's head: never skip silently
                raise SystemExit(
                    f"cursor {cursor} is beyond the feed's head {answer.json().get('head')}: "
                    f"check {cursor_file} (another deployment, or a store restored from a backup)"
                )
            answer.raise_for_status()
            page = answer.json()
            for event in page["events"]:
                jsonschema.validate(event, envelope_schema)
                schema = data_schemas.get(f"{event['event_type']}.v{event['schema_version']}")
                if schema is not None:
                    jsonschema.validate(event["data"], schema)
                print(
                    json.dumps(
                        {k: event[k] for k in ("event_id", "position", "stream_id", "version", "event_type")}
                    ),
                    flush=True,
                )
                handled += 1
            if page["events"]:
                last_seen = time.monotonic()
            cursor = page["next"]
            cursor_file.write_text(str(cursor))  # after the page is handled: a restart resumes here
    return handled


def main() -> None:
    """Parse the arguments and follow the feed."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--schemas", required=True)
    parser.add_argument("--cursor-file", required=True)
    parser.add_argument("--max-events", type=int, default=sys.maxsize)
    parser.add_argument("--idle-seconds", type=float, default=float("inf"))
    parser.add_argument(
        "--wait", type=float, default=20, help="long-poll: seconds the feed may wait for an event"
    )
    print(f"handled {follow(parser.parse_args())} events", file=sys.stderr)


if __name__ == "__main__":
    main()
