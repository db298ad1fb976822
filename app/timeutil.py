"""Local time of the plan: months and deadlines are judged in Asia/Ho_Chi_Minh."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def local_today() -> date:
    return datetime.now(LOCAL_TZ).date()


def local_day(instant: datetime) -> date:
    """The local date of an instant."""
    return instant.astimezone(LOCAL_TZ).date()
