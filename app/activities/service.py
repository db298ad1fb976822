"""The plan's activity catalogue (A to F) and the reports of outputs that have no record type."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.activities.schemas import (
    ActivityCreate,
    ActivityRead,
    ActivityReportCreate,
    ActivityReportRead,
    ActivityReportUpdate,
    ActivityUpdate,
)
from app.auth.permissions import Perm
from app.common.spec import Child, NaturalKey, ResourceSpec
from app.common.writes import Ctx
from app.errors import Invalid
from app.models import Activity, ActivityReport, ActivityUnit, Plan, Unit
from app.plans.lookup import plan_for_today
from app.timeutil import local_today

activities = Activity.__table__
activity_units = ActivityUnit.__table__
activity_reports = ActivityReport.__table__
units = Unit.__table__
plans = Plan.__table__

BROADCAST_FIELDS = ("channel", "airings_per_month", "min_minutes", "max_minutes")
FORUM_FIELDS = ("forum_kind", "forums_per_month")
# the KPIs read these activities' quotas (API.md section 10): each must have the shape its KPI reads
QUOTA_SHAPES = {"B1": BROADCAST_FIELDS, "B3": BROADCAST_FIELDS, "C4": FORUM_FIELDS}


def _unit_child(field: str, role: str) -> Child:
    return Child(
        field=field,
        table=activity_units,
        parent_fk="activity_id",
        to_rows=lambda ids: [{"unit_id": i} for i in dict.fromkeys(ids)],
        from_rows=lambda rows: [r["unit_id"] for r in rows],
        fixed={"role": role},
        order_by="unit_id",
    )


async def _units_exist(ctx: Ctx, data: dict[str, Any], _existing: dict[str, Any] | None) -> None:
    for field in ("lead_unit_ids", "coordinating_unit_ids"):
        ids = set(data.get(field) or [])
        if not ids:
            continue
        found = {r[0] for r in await ctx.conn.execute(select(units.c.id).where(units.c.id.in_(ids)))}
        missing = sorted(ids - found)
        if missing:
            raise Invalid(f"{field}: {missing[0]} is not a unit.", loc=["body", field])
    if data.get("starts_on") and data.get("ends_on") and data["ends_on"] < data["starts_on"]:
        raise Invalid("ends_on is before starts_on.", loc=["body", "ends_on"])


async def _plan(ctx: Ctx, data: dict[str, Any], existing: dict[str, Any] | None) -> None:
    """Every activity belongs to a plan; created without one, to the plan covering today (else the latest)."""
    if data.get("plan_id") is None:
        if existing is not None:
            raise Invalid("plan_id may not be null.", loc=["body", "plan_id"])
        data["plan_id"] = await plan_for_today(ctx.conn, ctx.principal.unit_id, local_today())
        if data["plan_id"] is None:
            raise Invalid("There is no plan yet: create one at /plans, or name plan_id.", loc=["body", "plan_id"])
    elif await ctx.conn.scalar(select(plans.c.id).where(plans.c.id == data["plan_id"])) is None:
        raise Invalid(f"plan_id {data['plan_id']} is not a plan.", loc=["body", "plan_id"])


def _set(quota: dict[str, Any] | None) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, str) else v) for k, v in (quota or {}).items() if v is not None}


async def _quota(ctx: Ctx, data: dict[str, Any], _existing: dict[str, Any] | None) -> None:
    """A quota is one shape, whole: a broadcast quota or a forum quota (422 naming the field missing)."""
    if data.get("quota") is None:
        return
    quota = _set(data["quota"])
    broadcast = [f for f in BROADCAST_FIELDS if f in quota]
    forum = [f for f in FORUM_FIELDS if f in quota]
    if broadcast and forum:
        raise Invalid(
            f"A quota is for broadcasts or for forums, not both ({forum[0]} with {broadcast[0]}).",
            loc=["body", "quota", forum[0]],
        )
    shape = QUOTA_SHAPES.get(data["code"]) or (FORUM_FIELDS if forum else BROADCAST_FIELDS)
    wrong = [f for f in quota if f not in shape]
    if wrong:
        raise Invalid(f"Activity {data['code']}'s quota does not take {wrong[0]}.", loc=["body", "quota", wrong[0]])
    for needed in shape[:2]:
        if needed not in quota:
            raise Invalid(f"quota.{needed} is required.", loc=["body", "quota", needed])
    low, high = quota.get("min_minutes"), quota.get("max_minutes")
    if low is not None and high is not None and high < low:
        raise Invalid("quota.max_minutes is below min_minutes.", loc=["body", "quota", "max_minutes"])


spec = ResourceSpec(
    name="activities",
    table=activities,
    create=ActivityCreate,
    update=ActivityUpdate,
    read=ActivityRead,
    read_perm=Perm.CATALOGUE_READ,
    write_perm=Perm.CATALOGUE_WRITE,
    unit_column=None,
    filters={
        "plan_id": lambda v: activities.c.plan_id == v,
        "frequency": lambda v: activities.c.frequency == str(v),
    },
    children=[_unit_child("lead_unit_ids", "lead"), _unit_child("coordinating_unit_ids", "coordinating")],
    natural_keys=[NaturalKey(("plan_id", "code"), "The plan has an activity with this code.")],
    rules=[_plan, _units_exist, _quota],
    # stored as set: only the fields given (a PATCH replaces the quota whole)
    derive=lambda data: {"quota": _set(data.get("quota")) or None},
)


report_spec = ResourceSpec(
    name="activity-reports",
    table=activity_reports,
    create=ActivityReportCreate,
    update=ActivityReportUpdate,
    read=ActivityReportRead,
    date_column=None,
    filters={"period": lambda v: activity_reports.c.period == v},
    natural_keys=[
        NaturalKey(("activity_id", "unit_id", "external_ref"), "A report with this external_ref exists for this unit.")
    ],
    parent=("activity_id", activities),
)
