"""`make verify` (`python -m shared.audit.verify`): walk the event store's hash chain and report.

Connects with the services' environment (MONGODB_URI, MONGODB_DATABASE; shared/config.py). Prints
"intact up to position N, head hash H" or the first break (position, event id, what), with the speed;
exits 1 on a break, 0 when intact, 2 when the store cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from pymongo.errors import PyMongoError

from shared.audit.walk import Report, verify_chain
from shared.config import ConnectionSettings
from shared.eventstore.mongo import MongoChain
from shared.service import Mongo


def _progress(done: int, end: int) -> None:
    print(f"verified {done:,} events (up to position {end:,})", file=sys.stderr, flush=True)


async def run(
    settings: ConnectionSettings, from_position: int | None, limit: int | None, batch_size: int
) -> Report:
    """Verify the chain of the configured database."""
    mongo = Mongo.from_settings(settings)
    try:
        chain = MongoChain(mongo.db, batch_size)
        return await verify_chain(chain, from_position=from_position, limit=limit, progress=_progress)
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
        report = asyncio.run(run(settings, args.from_position, args.limit, args.batch_size))
    except PyMongoError as exc:
        print(f"cannot read the event store at {settings.mongodb_uri}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) if args.json else report.summary())
    return 0 if report.intact else 1


if __name__ == "__main__":
    sys.exit(main())
