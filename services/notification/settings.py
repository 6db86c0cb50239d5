"""Notification service settings (env prefix NOTIFICATION_, connections from the shared names)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ConnectionSettings


class NotificationSettings(ConnectionSettings):
    """Where the service listens, which channels are configured, and how often it sends and fires timers."""

    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8106
    consumer_group: str = "notification"
    # The base URL the enterprise's rating link points at (the gateway as the public sees it).
    public_url: str = "http://127.0.0.1:8000"
    # Signs rating links; empty: a random secret kept in the database (shared by every instance).
    feedback_secret: str = ""
    feedback_link_days: int = Field(14, ge=1, le=90)
    tick_seconds: float = Field(
        1.0, gt=0, le=60, description="How often due deliveries and timers are handled"
    )
    # How long a bureau's name, as notices print it, is kept before the directory is read again (0: not kept).
    bureau_name_keep_seconds: float = Field(60.0, ge=0, le=3600)
    max_attempts: int = Field(5, ge=1, le=20)
    first_retry_seconds: float = Field(5.0, gt=0)
    max_retry_seconds: float = Field(1800.0, gt=0)
    # Channels: each is on when its address is set (the inbox always is).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_sender: str = "concierge@gaoxin.gov.cn"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    wecom_webhook_url: str = ""
    dingtalk_webhook_url: str = ""
    dingtalk_secret: str = ""
    sms_gateway_url: str = ""
    sms_gateway_token: str = ""
    channel_timeout_seconds: float = Field(10.0, gt=0, le=120)
