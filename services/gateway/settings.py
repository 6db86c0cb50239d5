"""Gateway settings (env prefix GATEWAY_): where it listens, where each service answers, and its limits."""

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.gateway.upstreams import parse_urls


class GatewaySettings(BaseSettings):
    """One base URL for the whole API; the route table maps it onto the services."""

    # A refused setting is not echoed in the error: a base URL may carry a password.
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", hide_input_in_errors=True)

    host: str = "127.0.0.1"
    port: int = 8000
    # Each service's base URL, or several instances' separated by commas (taken in turn: upstreams.py).
    intake_url: str = "http://127.0.0.1:8101"
    casequery_url: str = "http://127.0.0.1:8102"
    assignment_url: str = "http://127.0.0.1:8104"
    disbursement_url: str = "http://127.0.0.1:8105"
    notification_url: str = "http://127.0.0.1:8106"
    relay_url: str = "http://127.0.0.1:8103"
    # How long an upstream may take to answer (notices render PDFs), to accept a connection, and how long a
    # request may wait for a free pooled connection; past any of them the caller gets 503 + Retry-After.
    # The feed's long poll may take its `wait` (up to 30 s) on top of timeout_s (routes.FEED_MAX_WAIT_S).
    timeout_s: float = Field(30.0, gt=0)
    connect_timeout_s: float = Field(2.0, gt=0)
    pool_timeout_s: float = Field(2.0, gt=0)
    max_connections: int = Field(200, ge=1, description="the upstream connection pool of ordinary requests")
    # The feed's long polls (`wait` > 0) hold a connection for up to their wait: they have a pool of their
    # own (long_polls_total connections), so they never starve ordinary requests, and a key may hold only a
    # few at once (429 + Retry-After beyond; 503 + Retry-After when all keys' polls fill the pool).
    long_polls_per_key: int = Field(4, ge=1, description="long polls one API key may have in flight")
    long_polls_total: int = Field(100, ge=1, description="long polls in flight for all keys (their pool)")
    retry_after_s: int = Field(5, ge=1, description="Retry-After of a 503")
    max_body_bytes: int = Field(1024 * 1024, ge=1, description="larger request bodies get 413")
    # Per API key (the Authorization header's hash; the client address without one): a token bucket.
    rate_per_second: float = Field(20.0, ge=0, description="sustained requests per second; 0 turns it off")
    rate_burst: int = Field(40, ge=1, description="requests a quiet key may send at once")
    rate_keys: int = Field(10_000, ge=1, description="buckets remembered (least recently used dropped)")
    # Per client address: keys the services refused (a 401 with `Bearer error="invalid_token"`). Once used up,
    # the address may send only keys known to work (accepted before, or just handed out by a sign-in, a
    # refresh or a new personal token) until the bucket refills; those are never held back.
    refused_credentials_per_second: float = Field(1.0, ge=0, description="0 turns the limit off")
    refused_credentials_burst: int = Field(20, ge=1, description="refusals an address may have at once")
    forwarded_allow_ips: str = Field(
        "",
        description="proxies (comma-separated addresses) whose X-Forwarded-For names the client; none: the peer",
    )
    # The shared LOG_LEVEL every service reads sets the gateway's too; GATEWAY_LOG_LEVEL only the gateway's.
    log_level: str = Field("INFO", validation_alias=AliasChoices("GATEWAY_LOG_LEVEL", "LOG_LEVEL"))

    @field_validator(
        "intake_url", "casequery_url", "assignment_url", "disbursement_url", "notification_url", "relay_url"
    )
    @classmethod
    def _base_urls(cls, value: str) -> str:
        parse_urls(value)  # refuse a start with a URL the gateway could never reach
        return value
