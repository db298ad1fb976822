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
from app.models import Activity, ActivityReport, ActivityUnit, Unit

activities = Activity.__table__
activity_units = ActivityUnit.__table__
activity_reports = ActivityReport.__table__
units = Unit.__table__


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


spec = ResourceSpec(
    name="activities",
    table=activities,
    create=ActivityCreate,
    update=ActivityUpdate,
    read=ActivityRead,
    read_perm=Perm.CATALOGUE_READ,
    write_perm=Perm.CATALOGUE_WRITE,
    unit_column=None,
    filters={"frequency": lambda v: activities.c.frequency == str(v)},
    children=[_unit_child("lead_unit_ids", "lead"), _unit_child("coordinating_unit_ids", "coordinating")],
    natural_keys=[NaturalKey(("code",), "An activity with this code exists.")],
    rules=[_units_exist],
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
