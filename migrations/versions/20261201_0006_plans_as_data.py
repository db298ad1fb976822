"""plans as data: plans, plan_targets; activities get plan_id and quota, codes unique within a plan

An existing database's activities move under the seeded plan KH-TK-2021-2025 (created here, with the targets
of API.md section 6, plan-wide), and B1, B3 and C4 get their quotas. The seeded plan's data is frozen here, as
it was on the day of this migration (app/plans/seeded.py may change later; this must not).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 22:30:30.036614
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

PLAN = {
    "code": "KH-TK-2021-2025",
    "title": "Kế hoạch truyền thông nâng cao nhận thức về chuyển đổi số trên địa bàn thành phố Tam Kỳ"
    " giai đoạn 2021-2025",
    "starts_on": date(2021, 7, 1),
    "ends_on": date(2025, 12, 31),
    "required_unit_kinds": ["department", "media_center", "association", "ward", "commune"],
}
QUOTAS = {
    "B1": {"channel": "city_radio_tv", "airings_per_month": 4},
    "B3": {"channel": "ward_radio", "airings_per_month": 3, "min_minutes": 10, "max_minutes": 15},
    "C4": {"forum_kind": "village_forum", "forums_per_month": 1},
}
TARGETS = [
    ("unit_plan_coverage", "1.0", "gte"),
    ("official_training_coverage", "1.0", "gte"),
    ("satisfaction_rate", "0.8", "gt"),
    ("broadcast_compliance", "1.0", "gte"),
    ("forum_compliance", "1.0", "gte"),
    ("annual_report_rate", "1.0", "gte"),
    ("annual_report_timeliness", "1.0", "gte"),
]


def _stamp() -> dict:
    now = datetime.now(UTC)
    return {"created_at": now, "updated_at": now, "version": 1}


def _tables():
    stamp = [
        sa.column("created_at", app.db.UTCDateTime(timezone=True)),
        sa.column("updated_at", app.db.UTCDateTime(timezone=True)),
        sa.column("version", sa.Integer),
    ]
    units = sa.table("units", sa.column("id", ID), sa.column("code", sa.String), sa.column("kind", sa.String))
    plans = sa.table(
        "plans",
        sa.column("id", ID),
        sa.column("code", sa.String),
        sa.column("title", sa.String),
        sa.column("issued_by_unit_id", ID),
        sa.column("starts_on", sa.Date),
        sa.column("ends_on", sa.Date),
        sa.column("required_unit_kinds", sa.JSON),
        *stamp,
    )
    targets = sa.table(
        "plan_targets",
        sa.column("id", ID),
        sa.column("plan_id", ID),
        sa.column("kpi_code", sa.String),
        sa.column("year", sa.Integer),
        sa.column("target", sa.String),
        sa.column("comparison", sa.String),
        *[sa.column(c.name, c.type) for c in stamp],
    )
    activities = sa.table(
        "activities",
        sa.column("id", ID),
        sa.column("code", sa.String),
        sa.column("plan_id", ID),
        sa.column("quota", sa.JSON),
    )
    audit = sa.table(
        "audit_events",
        sa.column("at", app.db.UTCDateTime(timezone=True)),
        sa.column("actor_kind", sa.String),
        sa.column("action", sa.String),
        sa.column("resource", sa.String),
        sa.column("resource_id", ID),
        sa.column("after", sa.JSON),
    )
    return units, plans, targets, activities, audit


def _move_data() -> None:
    """The seeded plan and its targets, and today's activities under it; nothing when the database is new (the
    seed then loads the plan on first start)."""
    conn = op.get_bind()
    units, plans, targets, activities, audit = _tables()
    has_activities = conn.scalar(sa.select(activities.c.id).limit(1)) is not None
    issuer = conn.scalar(sa.select(units.c.id).where(units.c.code == "UBND-TK"))
    if issuer is None and has_activities:  # a database whose city was renamed: its first city, else first unit
        issuer = conn.scalar(sa.select(units.c.id).order_by((units.c.kind != "city"), units.c.id).limit(1))
    if issuer is None:
        if has_activities:
            raise RuntimeError("activities exist but no unit could issue the seeded plan")
        return

    def logged(resource: str, resource_id: int, after: dict) -> None:
        row = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in after.items()}
        conn.execute(
            sa.insert(audit).values(
                at=datetime.now(UTC), actor_kind="system", action="migrate", resource=resource,
                resource_id=resource_id, after=row,
            )
        )  # fmt: skip

    values = {**PLAN, "issued_by_unit_id": issuer}
    plan_id = conn.execute(sa.insert(plans).values(**values, **_stamp()).returning(plans.c.id)).scalar_one()
    logged("plans", plan_id, values)
    for kpi_code, target, comparison in TARGETS:
        row = {"plan_id": plan_id, "kpi_code": kpi_code, "year": None, "target": target, "comparison": comparison}
        target_id = conn.execute(sa.insert(targets).values(**row, **_stamp()).returning(targets.c.id)).scalar_one()
        logged("plan-targets", target_id, row)
    conn.execute(sa.update(activities).values(plan_id=plan_id))
    for code, quota in QUOTAS.items():
        conn.execute(sa.update(activities).where(activities.c.code == code).values(quota=quota))


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", ID, nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("issued_by_unit_id", ID, nullable=False),
        sa.Column("document_number", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("required_unit_kinds", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["issued_by_unit_id"], ["units.id"], name=op.f("fk_plans_issued_by_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("code", name=op.f("uq_plans_code")),
    )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plans_issued_by_unit_id"), ["issued_by_unit_id"], unique=False)

    op.create_table(
        "plan_targets",
        sa.Column("id", ID, nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("kpi_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("comparison", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_plan_targets_plan_id_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_targets")),
        sa.UniqueConstraint("plan_id", "kpi_code", "year", name=op.f("uq_plan_targets_plan_id_kpi_code_year")),
    )
    with op.batch_alter_table("plan_targets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_targets_plan_id"), ["plan_id"], unique=False)

    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan_id", ID, nullable=True))
        batch_op.add_column(sa.Column("quota", sa.JSON(), nullable=True))

    _move_data()

    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.alter_column("plan_id", existing_type=ID, nullable=False)
        batch_op.drop_constraint(batch_op.f("uq_activities_code"), type_="unique")
        batch_op.create_index(batch_op.f("ix_activities_plan_id"), ["plan_id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_activities_plan_id_code"), ["plan_id", "code"])
        batch_op.create_foreign_key(batch_op.f("fk_activities_plan_id_plans"), "plans", ["plan_id"], ["id"])


def downgrade() -> None:
    """Back to one catalogue: codes unique again (refused while two plans share an activity code)."""
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_activities_plan_id_plans"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_activities_plan_id_code"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_activities_plan_id"))
        batch_op.create_unique_constraint(batch_op.f("uq_activities_code"), ["code"])
        batch_op.drop_column("quota")
        batch_op.drop_column("plan_id")

    with op.batch_alter_table("plan_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_targets_plan_id"))

    op.drop_table("plan_targets")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plans_issued_by_unit_id"))

    op.drop_table("plans")
