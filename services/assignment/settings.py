"""Assignment service settings (env prefix ASSIGNMENT_, connections from the shared names)."""

from pydantic_settings import SettingsConfigDict

from shared.config import ConnectionSettings


class AssignmentSettings(ConnectionSettings):
    """Where the service listens, its consumer group, and how many enterprises one concierge serves."""

    model_config = SettingsConfigDict(env_prefix="ASSIGNMENT_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8104
    consumer_group: str = "assignment"
    enterprises_per_concierge: int = 1
    # Seconds between leave checks (leaves start and end on their own days); 0 turns the check off.
    leave_check_seconds: float = 300.0
