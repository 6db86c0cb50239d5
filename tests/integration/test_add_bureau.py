"""`make add-bureau`: a bureau is onboarded in one step: registered, its keys issued, its feed topic created,
and the commands that create its Kafka user and ACLs printed."""

from __future__ import annotations

import uuid

from aiokafka.admin import AIOKafkaAdminClient

from shared.auth.add_bureau import acl_commands, onboard
from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.config import ConnectionSettings
from shared.service import Mongo


async def test_a_bureau_is_onboarded_with_its_keys_its_feed_topic_and_its_acl_commands(infra) -> None:
    database = f"t_{uuid.uuid4().hex[:12]}"
    settings = ConnectionSettings(
        KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap, MONGODB_URI=infra.mongo_uri, MONGODB_DATABASE=database
    )
    handover = await onboard(Bureau(id="planning", name_zh="规划建设局", name_en="Planning Bureau"), settings)

    mongo = Mongo.from_settings(settings)
    try:
        assert await BureauDirectory(mongo.db).exists("planning")
        keys = ApiKeyStore(mongo.db, cache_seconds=0)
        integration = await keys.authenticate(str(handover["integration_api_key"]))
        admin = await keys.authenticate(str(handover["admin_api_key"]))
        assert integration and integration.bureau == "planning" and integration.role is Role.INTEGRATION
        assert admin and admin.role is Role.ADMIN
    finally:
        await mongo.client.drop_database(database)
        await mongo.client.close()
    admin_client = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap)
    await admin_client.start()
    try:
        assert "bureau.planning.events.v1" in await admin_client.list_topics()
    finally:
        await admin_client.close()
    commands = "\n".join(handover["compose_commands"])  # type: ignore[arg-type]
    assert "--entity-name bureau-planning" in commands and "SCRAM-SHA-512" in commands
    assert str(handover["kafka_password"]) in commands


def test_the_acls_let_a_bureau_read_only_its_own_feed_and_write_only_the_request_topics() -> None:
    commands = acl_commands("planning", "pw")
    reads = [c for c in commands if "Read" in c]
    writes = [c for c in commands if "Write" in c]
    read_topics = {c[c.index("--topic") + 1] for c in reads if "--topic" in c}
    assert read_topics == {"bureau.planning.events.v1"}
    assert all("User:bureau-planning" in c for c in commands[1:])
    written = [c[i + 1] for c in writes for i, a in enumerate(c) if a == "--topic"]
    assert sorted(written) == ["disbursements.requests.v1", "intake.requests.v1"]
    groups = [c for c in reads if "--group" in c]
    assert groups and groups[0][groups[0].index("--group") + 1] == "planning-"
