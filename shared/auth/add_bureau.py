"""Onboard a bureau in one step: `python -m shared.auth.add_bureau ID --name-zh .. --name-en ..` (`make add-bureau`).

It registers the bureau, issues its integration API key (HTTP, and the HTTP feed), creates its own Kafka feed
topic, makes the password of its Kafka user and prints the two `docker compose exec kafka ...` commands that
create that SCRAM user and its ACLs (read its own feed topic with its own consumer groups; write the request
topics). It prints everything to hand over once: secrets are not kept in clear anywhere.

Only a new bureau is onboarded: an id that is registered already (or differs from one only by case) is refused
with nothing changed, since a second run would otherwise hand out a new Kafka password whose command replaces
the live one and breaks the bureau's consumers. Renaming and further keys: `python -m shared.auth`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shlex
from collections.abc import Awaitable, Callable, Iterable

from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.auth.keys import BUREAUS, ZONE, ApiKeyStore, Bureau, Role
from shared.config import ConnectionSettings
from shared.contracts.topics import DISBURSEMENT_REQUESTS, INTAKE_REQUESTS, bureau_topic
from shared.messaging.kafka import ensure_topics
from shared.service import Mongo

KAFKA_BIN = "/opt/kafka/bin"
SCRAM = "SCRAM-SHA-512"


def kafka_user(bureau_id: str) -> str:
    """Return the Kafka principal name of a bureau's systems."""
    return f"bureau-{bureau_id}"


def acl_commands(bureau_id: str, password: str, bootstrap: str = "localhost:9092") -> list[list[str]]:
    """Return the commands (run inside the kafka container) that create the bureau's user and its ACLs."""
    user, principal = kafka_user(bureau_id), f"User:{kafka_user(bureau_id)}"
    base = ["--bootstrap-server", bootstrap]
    return [
        [
            f"{KAFKA_BIN}/kafka-configs.sh",
            *base,
            "--alter",
            "--entity-type",
            "users",
            "--entity-name",
            user,
            "--add-config",
            f"{SCRAM}=[iterations=8192,password={password}]",
        ],
        # Its own feed, and consumer groups named after it; nothing else can be read.
        [
            f"{KAFKA_BIN}/kafka-acls.sh",
            *base,
            "--add",
            "--allow-principal",
            principal,
            "--operation",
            "Read",
            "--operation",
            "Describe",
            "--topic",
            bureau_topic(bureau_id),
        ],
        [
            f"{KAFKA_BIN}/kafka-acls.sh",
            *base,
            "--add",
            "--allow-principal",
            principal,
            "--operation",
            "Read",
            "--group",
            f"{bureau_id}-",
            "--resource-pattern-type",
            "prefixed",
        ],
        # The request topics, write only (every message there is also signed: README, signed Kafka intake).
        [
            f"{KAFKA_BIN}/kafka-acls.sh",
            *base,
            "--add",
            "--allow-principal",
            principal,
            "--operation",
            "Write",
            "--operation",
            "Describe",
            "--topic",
            INTAKE_REQUESTS,
            "--topic",
            DISBURSEMENT_REQUESTS,
        ],
    ]


def _bureau(args: argparse.Namespace) -> Bureau:
    try:
        bureau = Bureau(id=args.id, name_zh=args.name_zh, name_en=args.name_en)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SystemExit(f"refused: {problems}") from None
    # Lower case only for new ids: Kafka topic and group names are case-sensitive, so `Planning` would get a
    # feed and ACLs of its own beside `planning`, and an operator typing either one would reach a different
    # bureau. (Registered ids keep whatever case they have.)
    if bureau.id != bureau.id.lower():
        raise SystemExit(
            f"refused: 新局编号只能用小写字母、数字、_ 和 -（如 {bureau.id.lower()}）/ a new bureau id may hold "
            f"only lower-case letters, digits, _ and - (e.g. {bureau.id.lower()}): it names the bureau's Kafka "
            "topic bureau.<id>.events.v1 and consumer groups <id>-…, whose names are case-sensitive"
        )
    if bureau.id == ZONE:
        raise SystemExit(
            f"refused: {ZONE} 是管委会（运维）保留的编号 / {ZONE} is reserved for the zone administration's "
            "operator keys"
        )
    return bureau


# The services' own consumer groups are named from these (`case-view`, `notification-board`, `assignment-cases`):
# a bureau whose group prefix (`<id>-`) covered them could join them and starve a service of its partitions.
SERVICE_GROUP_ROOTS = (
    "intake",
    "case",
    "casequery",
    "assignment",
    "disbursement",
    "notification",
    "relay",
    "gateway",
)


def id_conflict(new_id: str, registered: Iterable[str]) -> str | None:
    """Return why a new bureau id clashes with the registered ones or the services' groups (bilingual), or None."""
    if reserved := _service_root(new_id):
        return (
            f"局代码 {new_id} 与服务 {reserved} 的消费组重叠，未作任何更改 / the id {new_id} would name the consumer "
            f"groups of the {reserved} service; nothing was changed: choose another id"
        )
    registered = list(registered)
    if new_id in registered:
        return (
            f"局 {new_id} 已存在，未作任何更改 / bureau {new_id} already exists; nothing was changed. "
            f"改名或另发密钥 / to rename it or issue another key: python -m shared.auth bureau|issue {new_id} …"
        )
    for other in registered:
        if other.lower() == new_id.lower():
            return (
                f"局 {other} 已存在，与 {new_id} 仅大小写不同，未作任何更改 / bureau {other} already exists and "
                f"differs from {new_id} only by case; nothing was changed"
            )
    for other in registered:
        # The group ACL is a prefix (`<id>-`): `fin` would be allowed into `fin-ance`'s consumer groups, join
        # them and take partitions from that bureau's consumers.
        if other.startswith(f"{new_id}-") or new_id.startswith(f"{other}-"):
            return (
                f"局 {new_id} 与已有的局 {other} 的消费组前缀重叠，未作任何更改 / the consumer-group prefix of "
                f"{new_id} overlaps that of the existing bureau {other}; nothing was changed"
            )
    return None


def _service_root(new_id: str) -> str | None:
    lowered = new_id.lower()
    return next((r for r in SERVICE_GROUP_ROOTS if lowered == r or lowered.startswith(f"{r}-")), None)


async def register_new(
    db: AsyncDatabase, bureau: Bureau, before_writing: Callable[[], Awaitable[None]]
) -> tuple[str, str]:
    """Register a bureau that does not exist yet and issue its integration and admin keys; refuse otherwise."""
    registered = [str(doc["_id"]) async for doc in db[BUREAUS].find({}, {"_id": 1})]
    problem = id_conflict(bureau.id, registered)
    if problem is not None:
        raise SystemExit(f"refused: {problem}")
    await before_writing()  # e.g. the feed topic: if Kafka is down, nothing has been written yet
    try:
        # An insert, not the directory's upsert: of two runs racing for one id, the second fails here.
        await db[BUREAUS].insert_one({"_id": bureau.id, "name_zh": bureau.name_zh, "name_en": bureau.name_en})
    except DuplicateKeyError:
        raise SystemExit(f"refused: {id_conflict(bureau.id, [bureau.id])}") from None
    keys = ApiKeyStore(db)
    integration = await keys.issue(bureau.id, Role.INTEGRATION, f"integration of {bureau.id} (add_bureau)")
    admin = await keys.issue(bureau.id, Role.ADMIN, f"admin of {bureau.id} (add_bureau)")
    return integration, admin


async def onboard(bureau: Bureau, settings: ConnectionSettings) -> dict[str, object]:
    """Register the new bureau, issue its keys and create its feed topic; return the handover."""
    mongo = Mongo.from_settings(settings)
    try:
        key, admin = await register_new(
            mongo.db, bureau, lambda: ensure_topics(settings, [bureau_topic(bureau.id)])
        )
    finally:
        await mongo.client.close()
    password = secrets.token_urlsafe(24)
    return {
        "bureau": bureau.id,
        "integration_api_key": key,
        "admin_api_key": admin,
        "feed_topic": bureau_topic(bureau.id),
        "kafka_user": kafka_user(bureau.id),
        "kafka_password": password,
        "kafka_mechanism": SCRAM,
        "request_topics": [INTAKE_REQUESTS, DISBURSEMENT_REQUESTS],
        "compose_commands": [
            "docker compose exec kafka " + shlex.join(c) for c in acl_commands(bureau.id, password)
        ],
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m shared.auth.add_bureau", description=__doc__)
    parser.add_argument("id")
    parser.add_argument("--name-zh", required=True)
    parser.add_argument("--name-en", required=True)
    args = parser.parse_args(argv)
    handover = asyncio.run(onboard(_bureau(args), ConnectionSettings()))
    print(json.dumps(handover, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
