"""Units' own communication plans (activity A): one per unit and year."""

from __future__ import annotations

from app.common.records import external_ref_key, not_null
from app.common.spec import NaturalKey, ResourceSpec
from app.models import UnitPlan
from app.unit_plans.schemas import UnitPlanCreate, UnitPlanRead, UnitPlanUpdate

unit_plans = UnitPlan.__table__

spec = ResourceSpec(
    name="unit-plans",
    table=unit_plans,
    create=UnitPlanCreate,
    update=UnitPlanUpdate,
    read=UnitPlanRead,
    date_column="issued_on",
    filters={"year": lambda v: unit_plans.c.year == v},
    natural_keys=[
        NaturalKey(("unit_id", "year"), "This unit already has a plan for that year."),
        external_ref_key(what="unit plan"),
    ],
    rules=[not_null("unit_id", "year", "title", "document_number", "issued_on")],
)
