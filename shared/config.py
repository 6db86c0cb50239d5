"""Connection settings every service shares: one config whichever servers run behind it."""

from __future__ import annotations

import logging

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.messaging.pacing import FetchWait


class ConnectionSettings(BaseSettings):
    """Kafka and MongoDB connection, read from the same environment names in every service."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    mongodb_uri: str = Field(
        "mongodb://127.0.0.1:27017/?directConnection=true", validation_alias="MONGODB_URI"
    )
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
