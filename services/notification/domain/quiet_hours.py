"""Preferences per person: which channels, and quiet hours that only escalations ignore."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from shared.workdays.calendar import SHANGHAI

CHANNELS = ("inbox", "email", "wecom", "dingtalk", "sms")


@dataclass(frozen=True)
class Preferences:
    """A person's channels and quiet hours (Asia/Shanghai); the inbox always receives."""

    channels: tuple[str, ...] = ("inbox", "email")
    quiet_start: time | None = time(21, 0)
    quiet_end: time | None = time(8, 0)

    def wants(self, channel: str) -> bool:
        """Tell whether the person takes messages on this channel."""
        return channel == "inbox" or channel in self.channels


@dataclass(frozen=True)
class Urgency:
    """Whether a message may wait for the end of quiet hours."""

    escalation: bool = False
    reasons: tuple[str, ...] = field(default_factory=tuple)


def in_quiet_hours(prefs: Preferences, at: datetime) -> bool:
    """Tell whether a moment falls in the person's quiet hours."""
    if prefs.quiet_start is None or prefs.quiet_end is None:
        return False
    local = at.astimezone(SHANGHAI).time()
    if prefs.quiet_start <= prefs.quiet_end:
        return prefs.quiet_start <= local < prefs.quiet_end
    return local >= prefs.quiet_start or local < prefs.quiet_end


def deliver_at(prefs: Preferences, now: datetime, urgency: Urgency = Urgency()) -> datetime:
    """Return when a message may go out: now, or the end of quiet hours (escalations never wait)."""
    if urgency.escalation or not in_quiet_hours(prefs, now):
        return now
    assert prefs.quiet_end is not None
    local = now.astimezone(SHANGHAI)
    end = local.replace(hour=prefs.quiet_end.hour, minute=prefs.quiet_end.minute, second=0, microsecond=0)
    return end if end > local else end + timedelta(days=1)
