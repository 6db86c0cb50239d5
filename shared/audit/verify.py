"""`make verify` (`python -m shared.audit.verify`): walk the event store's hash chain and report.

Connects with the services' environment (MONGODB_URI, MONGODB_DATABASE; shared/config.py). Prints
"intact up to position N, head hash H" or the first break (position, event id, what), with the speed.
A full run (no --from/--limit) then lists the documents in `events` that are not part of the record
(neither pending nor numbered: written past the recorder, each blocking its stream's version; one scan
of the collection) and counts the unreadable documents the sequencer set aside in `events_rejected`.
Exits 1 on a break or a stray document, 0 when intact, 2 when the store cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from pymongo.errors import PyMongoError

from shared.audit.walk import Report, verify_chain
from shared.config import ConnectionSettings
from shared.eventstore.mongo import MongoChain
from shared.service import Mongo


def _progress(done: int, end: int) -> None:
    print(f"verified {done:,} events (up to position {end:,})", file=sys.stderr, flush=True)


@dataclass
class Outside:
    """Documents in the events collection that are not part of the record."""

    strays: int = 0  # neither pending nor numbered
    first_strays: list[dict[str, Any]] = field(default_factory=list)  # _id, stream_id, version
    rejected: int = 0  # set aside by the sequencer in events_rejected, not yet resolved

    def lines(self) -> list[str]:
        """Return what an operator should know, one line each (none when there is nothing)."""
        found = []
        if self.strays:
            shown = ", ".join(
                f"{d.get('_id')!r} (stream {d.get('stream_id')!r}, version {d.get('version')!r})"
                for d in self.first_strays
            )
            found.append(
                f"STRAY: {self.strays} document(s) in events are neither pending nor numbered (not events:"
                f" written past the recorder; each blocks its stream's version): {shown}"
            )
        if self.rejected:
            found.append(
                f"{self.rejected} unreadable document(s) set aside unnumbered in events_rejected wait for an"
                " operator (set resolved_at when handled)"
            )
        return found


async def run(
    settings: ConnectionSettings, from_position: int | None, limit: int | None, batch_size: int
) -> tuple[Report, Outside]:
    """Verify the chain of the configured database and look for documents outside the record."""
    mongo = Mongo.from_settings(settings)
    try:
        chain = MongoChain(mongo.db, batch_size)
        report = await verify_chain(chain, from_position=from_position, limit=limit, progress=_progress)
        if from_position is not None or limit is not None:
            return report, Outside()  # a partial walk: skip the scan of the whole collection strays need
        strays, first = await chain.strays()
        return report, Outside(strays, first, await chain.rejected())
    finally:
        await mongo.client.close()


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, verify, print the verdict; return the exit code."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--from", dest="from_position", type=int, help="first position (default: the chain's start)"
    )
    parser.add_argument(
        "--limit", type=int, help="verify at most this many positions (default: up to the head)"
    )
    parser.add_argument("--batch-size", type=int, default=2000, help="events read per window")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    settings = ConnectionSettings()
    try:
        report, outside = asyncio.run(run(settings, args.from_position, args.limit, args.batch_size))
    except PyMongoError as exc:
        print(f"cannot read the event store at {settings.mongodb_uri}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        data = report.as_dict() | {
            "stray_documents": outside.strays,
            "first_stray_documents": outside.first_strays,
            "rejected_unresolved": outside.rejected,
        }
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print("\n".join([report.summary(), *outside.lines()]))
    return 0 if report.intact and not outside.strays else 1


if __name__ == "__main__":
    sys.exit(main())
