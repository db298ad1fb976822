"""Units: the city's agencies, wards, villages and schools. Retired, never deleted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_

from app.auth.permissions import Perm
from app.auth.scope import in_subtree
from app.common.spec import NaturalKey, ResourceSpec
from app.common.text import fold, like_pattern
from app.common.writes import Ctx
from app.errors import Invalid
from app.models import Unit
from app.timeutil import local_today
from app.units.schemas import UnitCreate, UnitKind, UnitRead, UnitUpdate

units = Unit.__table__


def _active(value: bool):
    today = local_today()
    is_active = or_(units.c.dissolved_on.is_(None), units.c.dissolved_on > today)
    return is_active if value else ~is_active


async def _rules(ctx: Ctx, data: dict[str, Any], existing: dict[str, Any] | None) -> None:
    kind = UnitKind(data["kind"])
    parent_id = data.get("parent_id")
    if kind != UnitKind.CITY and parent_id is None:
        raise Invalid("parent_id is required for every unit but a city.", loc=["body", "parent_id"])
    for field in ("parent_id", "merged_into_id"):
        ref = data.get(field)
        if ref is not None and await ctx.unit(ref) is None:  # cached: an import asks once per unit, not per row
            raise Invalid(f"{field} {ref} is not a unit.", loc=["body", field])
    if existing is not None and parent_id is not None and await in_subtree(ctx.conn, existing["id"], parent_id):
        raise Invalid("parent_id would make the unit its own ancestor.", loc=["body", "parent_id"])
    if existing is not None and data.get("merged_into_id") == existing["id"]:
        raise Invalid("A unit cannot be merged into itself.", loc=["body", "merged_into_id"])
    est, dis = data.get("established_on"), data.get("dissolved_on")
    if est and dis and dis < est:
        raise Invalid("dissolved_on is before established_on.", loc=["body", "dissolved_on"])
    if data.get("merged_into_id") is not None and dis is None:
        raise Invalid("merged_into_id needs dissolved_on.", loc=["body", "dissolved_on"])


spec = ResourceSpec(
    name="units",
    table=units,
    create=UnitCreate,
    update=UnitUpdate,
    read=UnitRead,
    read_perm=Perm.CATALOGUE_READ,
    write_perm=Perm.CATALOGUE_WRITE,
    unit_column=None,
    filters={
        "kind": lambda v: units.c.kind == str(v),
        "parent_id": lambda v: units.c.parent_id == v,
        "active": _active,
        "q": lambda v: units.c.search_name.like(like_pattern(v), escape="\\"),
    },
    natural_keys=[NaturalKey(("code",), "A unit with this code exists.")],
    rules=[_rules],
    derive=lambda data: {"search_name": fold(data["name"])},
)
