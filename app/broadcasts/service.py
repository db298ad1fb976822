"""Broadcasts: radio-TV programmes, ward radio reports, portal news; each with its airings."""

from __future__ import annotations

from typing import Any

from app.broadcasts.schemas import BroadcastCreate, BroadcastRead, BroadcastUpdate, Channel
from app.common.records import external_ref_key
from app.common.spec import Child, ResourceSpec, require_fields
from app.common.writes import Ctx
from app.errors import Invalid
from app.models import Airing, Broadcast, Unit

broadcasts = Broadcast.__table__
airings = Airing.__table__
units = Unit.__table__

# The stations each channel belongs to (the broadcast_compliance KPI counts them per station).
STATION_KINDS: dict[Channel, frozenset[str]] = {
    Channel.WARD_RADIO: frozenset({"ward", "commune"}),
    Channel.CITY_RADIO_TV: frozenset({"media_center"}),
}


async def _rules(ctx: Ctx, data: dict[str, Any], existing: dict[str, Any] | None) -> None:
    require_fields(data, ["unit_id", "channel", "title", "duration_minutes", "produced_on", "airings"])
    seen = set()
    for i, instant in enumerate(data["airings"]):
        if instant in seen:
            raise Invalid(f"airings[{i}] repeats an earlier airing.", loc=["body", "airings", i])
        seen.add(instant)
    channel = Channel(data["channel"])
    kinds = STATION_KINDS.get(channel)
    if kinds is None:
        return
    unit = await ctx.unit(data["unit_id"])  # cached: an import asks once per unit, not once per row
    kind = unit["kind"] if unit is not None else None
    if kind not in kinds:
        moved = (
            existing is not None and data["unit_id"] != existing["unit_id"] and data["channel"] == existing["channel"]
        )
        field = "unit_id" if moved else "channel"
        raise Invalid(
            f"A {channel.value} broadcast belongs to a unit of kind {' or '.join(sorted(kinds))}; "
            f"unit {data['unit_id']} is a {kind}.",
            loc=["body", field],
        )


spec = ResourceSpec(
    name="broadcasts",
    table=broadcasts,
    create=BroadcastCreate,
    update=BroadcastUpdate,
    read=BroadcastRead,
    date_column="produced_on",
    filters={"channel": lambda v: broadcasts.c.channel == str(v)},
    children=[
        Child(
            field="airings",
            table=airings,
            parent_fk="broadcast_id",
            to_rows=lambda instants: [{"aired_at": t} for t in instants],
            from_rows=lambda rows: [r["aired_at"] for r in rows],
            order_by="aired_at",
        )
    ],
    natural_keys=[external_ref_key()],
    rules=[_rules],
)
