"""Gateway settings (env prefix GATEWAY_): where it listens and where each service answers."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    """One base URL for the whole API; the route table maps it onto the services."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    intake_url: str = "http://127.0.0.1:8101"
    casequery_url: str = "http://127.0.0.1:8102"
    assignment_url: str = "http://127.0.0.1:8104"
    relay_url: str = "http://127.0.0.1:8103"
    timeout_s: float = 30.0
    log_level: str = "INFO"
