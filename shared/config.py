"""Connection settings every service shares: one config whichever servers run behind it."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.messaging.pacing import FetchWait

LOCAL_HOST = "127.0.0.1"


def embedded_mongodb_uri(host: str, port: int) -> str:
    """Return the URI the services use for an embedded SecantusDB (what `make run` starts)."""
    # retryWrites=false: SecantusDB keeps a reply per retryable write (30 min, up to 10,000) and scans and
    # sorts them all on every write, so writes slow down as the list fills. The application retries its own
    # writes. maxIdleTimeMS: SecantusDB closes a connection idle for 300 s; the driver drops it first, so a
    # write never meets a connection the server closed (with no automatic retry, that write would fail).
    return f"mongodb://{host}:{port}/?directConnection=true&retryWrites=false&maxIdleTimeMS=60000"


def env_port(env: Mapping[str, str], name: str, default: int) -> int:
    """Return the port an environment variable names (unset or empty: the default)."""
    value = env.get(name) or str(default)
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) < 65536:
        raise ValueError(f"{name}={value!r} is not a port number")
    return int(value)


def stack_host(env: Mapping[str, str]) -> str:
    """Return the host `make run` binds its servers and services to (STACK_HOST)."""
    return env.get("STACK_HOST") or LOCAL_HOST


def local_mongodb_uri(env: Mapping[str, str] | None = None) -> str:
    """Return the MongoDB `make run` starts for this environment (STACK_HOST, MONGODB_PORT)."""
    env = os.environ if env is None else env
    return embedded_mongodb_uri(stack_host(env), env_port(env, "MONGODB_PORT", 27017))


def local_kafka_bootstrap(env: Mapping[str, str] | None = None) -> str:
    """Return the Kafka `make run` starts for this environment (STACK_HOST, KAFKA_PORT)."""
    env = os.environ if env is None else env
    return f"{stack_host(env)}:{env_port(env, 'KAFKA_PORT', 9092)}"


class ConnectionSettings(BaseSettings):
    """Kafka and MongoDB connection, read from the same environment names in every service."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    # Unset, they are the servers `make run` starts for the same environment (MONGODB_PORT, KAFKA_PORT,
    # STACK_HOST): an operator command run beside `X make run` as `X make rebuild` meets that stack's data,
    # never another MongoDB that happens to listen on the default port.
    kafka_bootstrap_servers: str = Field(
        default_factory=local_kafka_bootstrap, validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    mongodb_uri: str = Field(default_factory=local_mongodb_uri, validation_alias="MONGODB_URI")
    mongodb_database: str = Field("concierge", validation_alias="MONGODB_DATABASE")
    # Fail fast when MongoDB is down: the driver's 30 s default lets requests pile up behind it, each
    # holding a connection, while a quick 503 with Retry-After tells the caller what to do.
    mongodb_server_selection_timeout_ms: int = Field(
        3000, ge=100, validation_alias="MONGODB_SERVER_SELECTION_TIMEOUT_MS"
    )
    kafka_partitions: int = Field(4, ge=1, validation_alias="KAFKA_PARTITIONS")
    kafka_replication_factor: int = Field(1, ge=1, validation_alias="KAFKA_REPLICATION_FACTOR")
    # A fetch that finds nothing waits this long while records flow: aiokafka's 500 ms default would add half a
    # second per hop on a broker that answers an empty fetch only when its wait ends (Tansu).
    kafka_fetch_max_wait_ms: int = Field(10, ge=1, validation_alias="KAFKA_FETCH_MAX_WAIT_MS")
    # ... and this long once no record came for two seconds, so that idle consumers stop polling hard.
    kafka_fetch_idle_wait_ms: int = Field(100, ge=1, validation_alias="KAFKA_FETCH_IDLE_WAIT_MS")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    # Consumers' processed-message markers (dedupe by event id) expire after this; far beyond broker retention.
    processed_marker_ttl_days: int = Field(30, ge=1, le=3650, validation_alias="PROCESSED_MARKER_TTL_DAYS")

    @property
    def kafka_fetch_wait(self) -> FetchWait:
        """Return how long consumers' fetches wait, busy and idle."""
        return FetchWait(self.kafka_fetch_max_wait_ms, self.kafka_fetch_idle_wait_ms)


def configure_logging(level: str) -> None:
    """Log one line per record to stderr with the logger name."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per proxied request is noise
