"""Intake service settings (env prefix INTAKE_, connections from the shared names)."""

from pydantic_settings import SettingsConfigDict

from shared.config import ConnectionSettings


class IntakeSettings(ConnectionSettings):
    """Where intake listens and how it consumes intake requests."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8101
    consumer_group: str = "intake"
