"""docker-compose.yml is consistent with the code: every service, its env names, healthchecks, image build."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from services.assignment.settings import AssignmentSettings
from services.casequery.settings import CaseQuerySettings
from services.disbursement.settings import DisbursementSettings
from services.gateway.settings import GatewaySettings
from services.intake.settings import IntakeSettings
from services.notification.settings import NotificationSettings
from services.relay.settings import RelaySettings
from shared.devstack.stack import SERVICES

ROOT = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, type[BaseSettings]] = {
    "intake": IntakeSettings,
    "casequery": CaseQuerySettings,
    "relay": RelaySettings,
    "assignment": AssignmentSettings,
    "disbursement": DisbursementSettings,
    "notification": NotificationSettings,
    "gateway": GatewaySettings,
}


def env_names(settings: type[BaseSettings]) -> set[str]:
    """Return the environment variable names a settings class reads."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    return {
        field.validation_alias if isinstance(field.validation_alias, str) else f"{prefix}{name}".upper()
        for name, field in settings.model_fields.items()
    }


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def service_env(compose: dict[str, Any], name: str) -> set[str]:
    entry = compose["services"][name]
    names = set(entry.get("environment", {}))
    env_file = entry.get("env_file")
    if env_file:
        lines = (ROOT / env_file).read_text().splitlines()
        names |= {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}
    return names


def test_every_service_in_code_has_a_compose_entry_with_a_healthcheck(compose: dict[str, Any]) -> None:
    assert set(SETTINGS) == {s.name for s in SERVICES}
    for spec in SERVICES:
        entry = compose["services"][spec.name]
        assert entry["command"] == ["python", "-m", spec.module]
        assert "healthcheck" in entry and entry["build"]["dockerfile"] == "deploy/Dockerfile"


def test_service_env_names_are_ones_its_settings_read(compose: dict[str, Any]) -> None:
    for name, settings in SETTINGS.items():
        unknown = service_env(compose, name) - env_names(settings)
        if name == "gateway":  # it shares the env file but reads no connection settings
            unknown -= env_names(IntakeSettings) - env_names(GatewaySettings)
        assert not unknown, f"{name}: compose sets {sorted(unknown)} which {settings.__name__} does not read"


def test_each_service_listens_on_all_interfaces_at_the_port_its_healthcheck_probes(
    compose: dict[str, Any],
) -> None:
    for spec in SERVICES:
        env = compose["services"][spec.name]["environment"]
        assert env[f"{spec.env_prefix}HOST"] == "0.0.0.0"
        assert f":{env[f'{spec.env_prefix}PORT']}/healthz" in " ".join(
            compose["services"][spec.name]["healthcheck"]["test"]
        )


def test_infrastructure_is_kafka_in_kraft_mode_and_a_mongodb_replica_set(compose: dict[str, Any]) -> None:
    kafka, mongo = compose["services"]["kafka"], compose["services"]["mongo"]
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "--replSet" in mongo["command"] and "healthcheck" in mongo
    env_file = (ROOT / "deploy/env.example").read_text()
    assert "KAFKA_BOOTSTRAP_SERVERS=kafka:9092" in env_file and "replicaSet=rs0" in env_file
    for spec in SERVICES:
        depends = compose["services"][spec.name]["depends_on"]
        assert all(d["condition"] == "service_healthy" for n, d in depends.items() if n != "relay")


def test_the_api_starts_even_while_the_relay_raises_an_alarm(compose: dict[str, Any]) -> None:
    # Relay /healthz answers 503 on lag or a parked event; that must not keep the gateway from starting.
    assert compose["services"]["gateway"]["depends_on"]["relay"]["condition"] == "service_started"


def test_gateway_routes_to_the_compose_service_names(compose: dict[str, Any]) -> None:
    env = compose["services"]["gateway"]["environment"]
    for spec in SERVICES:
        if spec.name != "gateway":
            assert env[f"GATEWAY_{spec.name.upper()}_URL"] == f"http://{spec.name}:{spec.default_port}"
    assert compose["services"]["gateway"]["ports"] == ["8000:8000"]


def test_kafka_is_reachable_from_other_bureaus_on_an_external_listener_set_by_env(
    compose: dict[str, Any],
) -> None:
    kafka = compose["services"]["kafka"]
    env = kafka["environment"]
    listeners = dict(item.split("://", 1) for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://", 1) for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    protocols = dict(item.split(":", 1) for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert (
        listeners["EXTERNAL"] == ":9094" and protocols["EXTERNAL"] == "SASL_PLAINTEXT"
    )  # SCRAM users per bureau
    assert advertised["PLAINTEXT"] == "kafka:9092"  # the services keep the internal name
    assert advertised["EXTERNAL"] == "${KAFKA_EXTERNAL_HOST:-localhost}:${KAFKA_EXTERNAL_PORT:-9094}"
    assert "${KAFKA_EXTERNAL_PORT:-9094}:9094" in kafka["ports"]
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] == "PLAINTEXT"


def test_the_external_kafka_listener_takes_only_scram_users_and_acls_deny_what_they_do_not_allow(
    compose: dict[str, Any],
) -> None:
    kafka = compose["services"]["kafka"]["environment"]
    protocols = dict(p.split(":") for p in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert (
        protocols["EXTERNAL"] == "SASL_PLAINTEXT"
        and kafka["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    )
    assert kafka["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    # Only the external listener is published; the internal ones (whose ANONYMOUS principal is a super user) are not.
    assert compose["services"]["kafka"]["ports"] == ["${KAFKA_EXTERNAL_PORT:-9094}:9094"]
    assert "EXTERNAL://:9094" in kafka["KAFKA_LISTENERS"]
