"""Trainings: who organised them, for which audience, and how many came from each unit."""

from __future__ import annotations

from typing import Any

from app.common.records import external_ref_key
from app.common.spec import Child, ResourceSpec, require_fields
from app.common.writes import Ctx
from app.errors import Invalid
from app.models import Training, TrainingParticipant, Unit
from app.trainings.schemas import TrainingCreate, TrainingRead, TrainingUpdate

trainings = Training.__table__
participants = TrainingParticipant.__table__
units = Unit.__table__


async def _rules(ctx: Ctx, data: dict[str, Any], _existing: dict[str, Any] | None) -> None:
    """Participants may come from any unit (not only the organiser's scope), but from real ones, once each."""
    require_fields(data, ["unit_id", "audience", "title", "held_on", "participants"])
    rows = data["participants"]
    # cached: an import asks once per unit, not once per row
    await ctx.preload_units({p["unit_id"] for p in rows})
    seen: set[int] = set()
    for i, p in enumerate(rows):
        loc = ["body", "participants", i, "unit_id"]
        if await ctx.unit(p["unit_id"]) is None:
            raise Invalid(f"participants[{i}].unit_id {p['unit_id']} is not a unit.", loc=loc)
        if p["unit_id"] in seen:
            raise Invalid(f"participants[{i}] repeats unit {p['unit_id']}; give one count per unit.", loc=loc)
        seen.add(p["unit_id"])


spec = ResourceSpec(
    name="trainings",
    table=trainings,
    create=TrainingCreate,
    update=TrainingUpdate,
    read=TrainingRead,
    date_column="held_on",
    filters={"audience": lambda v: trainings.c.audience == str(v)},
    children=[
        Child(
            field="participants",
            table=participants,
            parent_fk="training_id",
            to_rows=lambda rows: [{"unit_id": p["unit_id"], "count": p["count"]} for p in rows],
            from_rows=lambda rows: [{"unit_id": r["unit_id"], "count": r["count"]} for r in rows],
            order_by="id",
            unit_field="unit_id",
        )
    ],
    natural_keys=[external_ref_key()],
    rules=[_rules],
)
