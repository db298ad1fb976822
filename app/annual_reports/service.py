"""Units' yearly results reports (due 1 December): one per unit and year, stamped by the server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.annual_reports.schemas import AnnualReportCreate, AnnualReportRead, AnnualReportUpdate
from app.auth.permissions import Perm
from app.common.records import external_ref_key, not_null
from app.common.spec import NaturalKey, ResourceSpec
from app.common.writes import Ctx
from app.db import utcnow
from app.errors import Invalid
from app.models import AnnualReport
from app.webhooks import outbox
from app.webhooks.schemas import EventType

annual_reports = AnnualReport.__table__

# a backfilled submitted_at may run this far ahead of the server's clock (the client's clock may be fast)
CLOCK_SKEW = timedelta(minutes=5)


async def _submitted_at(ctx: Ctx, data: dict[str, Any], existing: dict[str, Any] | None) -> None:
    """The server stamps submitted_at; only a principal that may backfill sets it, and not in the future."""
    sent = data.get("submitted_at")
    if existing is not None and sent == existing["submitted_at"]:
        return
    now = utcnow()
    if sent is None or not ctx.principal.can(Perm.RECORDS_BACKFILL):
        data["submitted_at"] = existing["submitted_at"] if existing is not None else now
    elif sent > now + CLOCK_SKEW:
        raise Invalid("submitted_at is in the future.", loc=["body", "submitted_at"])


spec = ResourceSpec(
    name="annual-reports",
    table=annual_reports,
    create=AnnualReportCreate,
    update=AnnualReportUpdate,
    read=AnnualReportRead,
    date_column="submitted_at",
    date_is_instant=True,
    filters={"year": lambda v: annual_reports.c.year == v},
    natural_keys=[
        NaturalKey(("unit_id", "year"), "This unit already has an annual report for that year."),
        external_ref_key(what="annual report"),
    ],
    server_fields=_submitted_at,
    rules=[not_null("unit_id", "year", "summary")],
)
# a new report (by POST or by an import) tells the endpoints whose scope holds it
spec.after.append(outbox.hook(spec, lambda e: EventType.ANNUAL_REPORT_CREATED.value if e.action == "create" else None))
