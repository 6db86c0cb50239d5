"""Case query service settings (env prefix CASEQUERY_, connections from the shared names)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ConnectionSettings


class CaseQuerySettings(ConnectionSettings):
    """Where the case read API listens and how the case-view projection consumes events."""

    model_config = SettingsConfigDict(env_prefix="CASEQUERY_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8102
    consumer_group: str = "case-view"
    story_consumer_group: str = "case-story"
    money_consumer_group: str = "case-money"
    # Long polls of GET /api/v1/feed one bureau may have waiting in this process (0: no cap), so that a bureau
    # with many keys or tokens cannot hold the gateway's whole long-poll pool (GATEWAY_LONG_POLLS_TOTAL).
    feed_long_polls_per_bureau: int = Field(default=20, ge=0)
