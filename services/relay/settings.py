"""Relay service settings (env prefix RELAY_, connections from the shared names)."""

from pydantic_settings import SettingsConfigDict

from shared.config import ConnectionSettings


class RelaySettings(ConnectionSettings):
    """Where the relay answers /healthz and how it batches."""

    model_config = SettingsConfigDict(env_prefix="RELAY_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8103
    batch_size: int = 500
    linger_ms: int = 2
