"""`X make run` and `X make rebuild|verify|add-bureau` meet the same servers: with MONGODB_URI (or
KAFKA_BOOTSTRAP_SERVERS) unset, the operator commands' settings follow MONGODB_PORT, KAFKA_PORT and STACK_HOST
exactly as the dev stack does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from services.casequery.settings import CaseQuerySettings
from services.disbursement.settings import DisbursementSettings
from shared.config import ConnectionSettings
from shared.devstack.stack import StackConfig

ROOT = Path(__file__).resolve().parents[2]
STACK_VARIABLES = ("MONGODB_URI", "MONGODB_PORT", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_PORT", "STACK_HOST")
# The settings `make rebuild` (casequery), `python -m services.disbursement.rebuild`, `make verify` and
# `make add-bureau` read.
OPERATOR_SETTINGS: tuple[type[ConnectionSettings], ...] = (
    CaseQuerySettings,
    DisbursementSettings,
    ConnectionSettings,
)
ENVIRONMENTS = [
    {},
    {"MONGODB_PORT": "19117"},
    {"MONGODB_PORT": "19117", "KAFKA_PORT": "19092"},
    {"STACK_HOST": "127.0.0.2", "MONGODB_PORT": "19117", "KAFKA_PORT": "19092"},
    {"MONGODB_URI": "mongodb://db.example:27017/?replicaSet=rs0", "MONGODB_PORT": "19117"},
    {"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "KAFKA_PORT": "19092"},
]


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in STACK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("settings_class", OPERATOR_SETTINGS)
def test_operator_settings_use_the_servers_make_run_starts_for_the_same_environment(
    environment: pytest.MonkeyPatch, env: dict[str, str], settings_class: type[BaseSettings]
) -> None:
    for name, value in env.items():
        environment.setenv(name, value)
    stack = StackConfig.from_env(dict(os.environ))

    settings = settings_class()

    assert isinstance(settings, ConnectionSettings)
    assert settings.mongodb_uri == stack.mongo_uri
    assert settings.kafka_bootstrap_servers == stack.bootstrap


def test_mongodb_port_alone_moves_the_operator_commands_off_27017(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("MONGODB_PORT", "19117")
    environment.setenv("KAFKA_PORT", "19092")

    settings = ConnectionSettings()

    assert settings.mongodb_uri.startswith("mongodb://127.0.0.1:19117/")
    assert settings.kafka_bootstrap_servers == "127.0.0.1:19092"


def test_a_port_that_is_not_a_number_is_named_in_the_error(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("MONGODB_PORT", "mongo")

    with pytest.raises(ValueError, match="MONGODB_PORT='mongo' is not a port number"):
        ConnectionSettings()


def test_make_verify_reaches_for_the_port_make_run_would_use(environment: pytest.MonkeyPatch) -> None:
    env = {k: v for k, v in os.environ.items() if k not in STACK_VARIABLES}
    # Nothing listens on port 1: the command fails fast and names where it looked.
    env |= {"MONGODB_PORT": "1", "MONGODB_SERVER_SELECTION_TIMEOUT_MS": "200"}

    done = subprocess.run(
        [sys.executable, "-m", "shared.audit.verify"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )

    assert done.returncode == 2, done.stderr[-2000:]
    assert "cannot read the event store at mongodb://127.0.0.1:1/" in done.stderr
