"""Onboard a bureau in one step: `python -m shared.auth.add_bureau ID --name-zh .. --name-en ..` (`make add-bureau`).

It registers the bureau, issues its integration API key (HTTP, and the HTTP feed), creates its own Kafka feed
topic, makes the password of its Kafka user and prints the two `docker compose exec kafka ...` commands that
create that SCRAM user and its ACLs (read its own feed topic with its own consumer groups; write the request
topics). It prints everything to hand over once: secrets are not kept in clear anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shlex

from pydantic import ValidationError

from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
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
        return Bureau(id=args.id, name_zh=args.name_zh, name_en=args.name_en)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SystemExit(f"refused: {problems}") from None


async def onboard(bureau: Bureau, settings: ConnectionSettings) -> dict[str, object]:
    """Register the bureau, issue its integration key and create its feed topic; return the handover."""
    mongo = Mongo.from_settings(settings)
    try:
        await BureauDirectory(mongo.db).register(bureau)
        key = await ApiKeyStore(mongo.db).issue(
            bureau.id, Role.INTEGRATION, f"integration of {bureau.id} (add_bureau)"
        )
        admin = await ApiKeyStore(mongo.db).issue(bureau.id, Role.ADMIN, f"admin of {bureau.id} (add_bureau)")
    finally:
        await mongo.client.close()
    await ensure_topics(settings, [bureau_topic(bureau.id)])
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


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m shared.auth.add_bureau", description=__doc__)
    parser.add_argument("id")
    parser.add_argument("--name-zh", required=True)
    parser.add_argument("--name-en", required=True)
    args = parser.parse_args()
    handover = asyncio.run(onboard(_bureau(args), ConnectionSettings()))
    print(json.dumps(handover, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
