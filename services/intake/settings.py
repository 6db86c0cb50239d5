"""Intake service settings (env prefix INTAKE_, connections from the shared names)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ConnectionSettings


class IntakeSettings(ConnectionSettings):
    """Where intake listens and how it consumes intake requests."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8101
    consumer_group: str = "intake"
    # Every message on intake.requests.v1 must carry a valid signature of a registered integration key of the
    # bureau it names (shared/auth/signing.py). Off only while a bureau migrates: unsigned messages are then
    # believed as before; signed ones are still verified.
    require_signed_messages: bool = True
    # How long a looked-up integration key is remembered: a revocation reaches the consumer within this delay.
    signing_key_cache_seconds: float = Field(5.0, ge=0)
