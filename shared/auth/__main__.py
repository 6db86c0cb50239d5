"""Manage bureaus and API keys: `python -m shared.auth bureau|issue ...` (uses MONGODB_URI)."""

from __future__ import annotations

import argparse
import asyncio

from pydantic import ValidationError

from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.config import ConnectionSettings
from shared.service import Mongo


def _bureau(args: argparse.Namespace) -> Bureau:
    """Return the bureau to register, or exit with why it is refused."""
    try:
        return Bureau(id=args.id, name_zh=args.name_zh, name_en=args.name_en)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SystemExit(f"refused: {problems}") from None


async def _run(args: argparse.Namespace) -> None:
    bureau = _bureau(args) if args.command == "bureau" else None  # checked before connecting
    mongo = Mongo.from_settings(ConnectionSettings())
    try:
        if bureau is not None:
            await BureauDirectory(mongo.db).register(bureau)
            print(f"bureau {bureau.id} registered")
        else:
            if not await BureauDirectory(mongo.db).exists(args.bureau):
                raise SystemExit(f"unknown bureau {args.bureau!r}: register it first")
            print(await ApiKeyStore(mongo.db).issue(args.bureau, Role(args.role), args.label))
    finally:
        await mongo.client.close()


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m shared.auth", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    bureau = sub.add_parser("bureau", help="register or rename a bureau")
    bureau.add_argument("id")
    bureau.add_argument("--name-zh", required=True)
    bureau.add_argument("--name-en", required=True)
    issue = sub.add_parser("issue", help="issue an API key (printed once; only its hash is stored)")
    issue.add_argument("bureau")
    issue.add_argument("--role", choices=[r.value for r in Role], default=Role.STAFF.value)
    issue.add_argument("--label", default="issued by hand")
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
