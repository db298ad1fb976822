"""Plans and their targets as resources of the shared machinery, and the copy that starts the next plan."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.activities.schemas import ActivityQuery
from app.activities.service import spec as activity_spec
from app.auth.permissions import Perm
from app.auth.principal import Principal
from app.common import repository, writes
from app.common.spec import NaturalKey, ResourceSpec
from app.common.writes import Ctx
from app.errors import Conflict, Invalid
from app.kpis.registry import BY_CODE
from app.models import Plan, PlanTarget, Unit
from app.plans.schemas import (
    PlanCopy,
    PlanCreate,
    PlanRead,
    PlanUpdate,
    TargetCreate,
    TargetRead,
    TargetUpdate,
)

plans = Plan.__table__
plan_targets = PlanTarget.__table__
units = Unit.__table__


async def _plan_rules(ctx: Ctx, data: dict[str, Any], existing: dict[str, Any] | None) -> None:
    """A real issuing unit, starts_on <= ends_on, and no two plans of one issuing unit sharing a day."""
    if await ctx.unit(data["issued_by_unit_id"]) is None:
        raise Invalid(
            f"issued_by_unit_id {data['issued_by_unit_id']} is not a unit.", loc=["body", "issued_by_unit_id"]
        )
    starts, ends = data["starts_on"], data["ends_on"]
    if ends < starts:
        raise Invalid("ends_on is before starts_on.", loc=["body", "ends_on"])
    q = select(plans.c.code, plans.c.starts_on, plans.c.ends_on).where(
        plans.c.issued_by_unit_id == data["issued_by_unit_id"], plans.c.starts_on <= ends, plans.c.ends_on >= starts
    )
    if existing is not None:
        q = q.where(plans.c.id != existing["id"])
    clash = (await ctx.conn.execute(q.limit(1))).first()
    if clash is not None:
        raise Conflict(
            f"The window overlaps plan {clash.code} ({clash.starts_on} to {clash.ends_on}) of the same issuing unit."
        )


spec = ResourceSpec(
    name="plans",
    table=plans,
    create=PlanCreate,
    update=PlanUpdate,
    read=PlanRead,
    read_perm=Perm.CATALOGUE_READ,
    write_perm=Perm.CATALOGUE_WRITE,
    unit_column=None,
    filters={
        "issued_by_unit_id": lambda v: plans.c.issued_by_unit_id == v,
        "code": lambda v: plans.c.code == v,
    },
    natural_keys=[NaturalKey(("code",), "A plan with this code exists.")],
    rules=[_plan_rules],
    derive=lambda data: {"required_unit_kinds": [str(k) for k in dict.fromkeys(data["required_unit_kinds"])]},
)


async def _target_rules(ctx: Ctx, data: dict[str, Any], existing: dict[str, Any] | None) -> None:
    """A known KPI, a year within the plan's window, and one row per (kpi_code, year), the plan-wide row too."""
    if data["kpi_code"] not in BY_CODE:
        raise Invalid(
            f"kpi_code {data['kpi_code']!r} is not a KPI; the codes are: {', '.join(BY_CODE)}.",
            loc=["body", "kpi_code"],
        )
    plan = (await ctx.conn.execute(select(plans).where(plans.c.id == data["plan_id"]))).first()
    year = data.get("year")
    if year is not None and not plan.starts_on.year <= year <= plan.ends_on.year:
        raise Invalid(
            f"year {year} is outside the plan's window ({plan.starts_on} to {plan.ends_on}).", loc=["body", "year"]
        )
    same_year = plan_targets.c.year.is_(None) if year is None else plan_targets.c.year == year
    q = select(plan_targets.c.id).where(
        plan_targets.c.plan_id == data["plan_id"], plan_targets.c.kpi_code == data["kpi_code"], same_year
    )
    if existing is not None:
        q = q.where(plan_targets.c.id != existing["id"])
    if await ctx.conn.scalar(q.limit(1)) is not None:
        which = "plan-wide" if year is None else f"for {year}"
        raise Conflict(f"The plan already has a {which} target for {data['kpi_code']}.")


def _decimal_text(data: dict[str, Any]) -> dict[str, Any]:
    """Targets are kept as decimal text, so that 0.8 stays exactly 0.8 when compared."""
    return {"target": str(Decimal(str(data["target"])))}


target_spec = ResourceSpec(
    name="plan-targets",
    table=plan_targets,
    create=TargetCreate,
    update=TargetUpdate,
    read=TargetRead,
    read_perm=Perm.CATALOGUE_READ,
    write_perm=Perm.CATALOGUE_WRITE,
    unit_column=None,
    filters={
        "kpi_code": lambda v: plan_targets.c.kpi_code == v,
        "year": lambda v: plan_targets.c.year == v,
    },
    rules=[_target_rules],
    derive=_decimal_text,
    parent=("plan_id", plans),
)


async def _units_existing_on(conn: AsyncConnection, unit_ids: set[int], day: date) -> set[int]:
    if not unit_ids:
        return set()
    rows = await conn.execute(
        select(units.c.id).where(
            units.c.id.in_(unit_ids),
            or_(units.c.established_on.is_(None), units.c.established_on <= day),
            or_(units.c.dissolved_on.is_(None), units.c.dissolved_on > day),
        )
    )
    return {r[0] for r in rows}


async def copy_plan(conn: AsyncConnection, principal: Principal, plan_id: int, body: PlanCopy) -> dict[str, Any]:
    """The next plan in one call: the issuing unit and required kinds, every activity with its quota (the new
    window as its dates, the lead and coordinating units that still exist on the new start date) and the
    plan-wide targets. Document number and issue date stay empty; milestones (a year's target) stay behind."""
    source = await repository.load(conn, spec, principal, plan_id, for_update=True)
    plan = await writes.create(
        conn,
        spec,
        principal,
        {
            **body.model_dump(),
            "issued_by_unit_id": source["issued_by_unit_id"],
            "required_unit_kinds": source["required_unit_kinds"],
        },
        action="copy",
    )
    copied = [a async for a in repository.iterate_all(conn, activity_spec, principal, ActivityQuery(plan_id=plan_id))]
    everyone = {u for a in copied for u in (*a["lead_unit_ids"], *a["coordinating_unit_ids"])}
    existing = await _units_existing_on(conn, everyone, body.starts_on)
    for activity in copied:
        await writes.create(
            conn,
            activity_spec,
            principal,
            {
                "plan_id": plan["id"],
                "code": activity["code"],
                "title": activity["title"],
                "description": activity["description"],
                "frequency": activity["frequency"],
                "lead_unit_ids": [u for u in activity["lead_unit_ids"] if u in existing],
                "coordinating_unit_ids": [u for u in activity["coordinating_unit_ids"] if u in existing],
                "starts_on": body.starts_on,
                "ends_on": body.ends_on,
                "quota": activity["quota"],
            },
        )
    plan_wide = await conn.execute(
        select(plan_targets)
        .where(and_(plan_targets.c.plan_id == plan_id, plan_targets.c.year.is_(None)))
        .order_by(plan_targets.c.id)
    )
    for target in plan_wide.mappings().all():
        await writes.create(
            conn,
            target_spec,
            principal,
            {
                "kpi_code": target["kpi_code"],
                "year": None,
                "target": target["target"],
                "comparison": target["comparison"],
            },
            parent_id=plan["id"],
        )
    return plan
