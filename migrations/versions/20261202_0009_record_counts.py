"""record counts per table and unit, kept by triggers

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the tables whose lists read their totals from record_counts (app/common/counts.py holds the same list; a test
# holds the two equal). Written out here: a migration must not change when the application's code does.
COUNTED = ("annual_reports", "broadcasts", "forums", "satisfaction_surveys", "trainings", "unit_plans")

# PostgreSQL: one statement-level trigger per event, over its transition tables, so that an import of 50,000
# rows adds to its units' counts in one statement instead of 50,000. Units in id order: two transactions
# touching the same units take their counter rows' locks in the same order.
PG_FUNCTION = """
CREATE FUNCTION dx_record_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM record_counts WHERE table_name = TG_TABLE_NAME;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO record_counts (table_name, unit_id, n)
        SELECT TG_TABLE_NAME, unit_id, count(*) FROM dx_new GROUP BY unit_id ORDER BY unit_id
        ON CONFLICT (table_name, unit_id) DO UPDATE SET n = record_counts.n + excluded.n;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE record_counts c SET n = c.n - d.k
        FROM (SELECT unit_id, count(*) AS k FROM dx_old GROUP BY unit_id ORDER BY unit_id) d
        WHERE c.table_name = TG_TABLE_NAME AND c.unit_id = d.unit_id;
    ELSE
        INSERT INTO record_counts (table_name, unit_id, n)
        SELECT TG_TABLE_NAME, unit_id, sum(d) FROM (
            SELECT unit_id, 1 AS d FROM dx_new UNION ALL SELECT unit_id, -1 AS d FROM dx_old
        ) moved GROUP BY unit_id HAVING sum(d) <> 0 ORDER BY unit_id
        ON CONFLICT (table_name, unit_id) DO UPDATE SET n = record_counts.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$
"""

PG_TRIGGERS = {
    "ins": "AFTER INSERT ON {t} REFERENCING NEW TABLE AS dx_new",
    "del": "AFTER DELETE ON {t} REFERENCING OLD TABLE AS dx_old",
    "upd": "AFTER UPDATE ON {t} REFERENCING OLD TABLE AS dx_old NEW TABLE AS dx_new",
    "trunc": "AFTER TRUNCATE ON {t}",  # SQLite has no TRUNCATE: its DELETE without WHERE fires the row trigger
}

# SQLite has no statement triggers: a row trigger per event (the moved row only when its unit changed)
SQLITE_TRIGGERS = {
    "ins": """AFTER INSERT ON {t} BEGIN
        INSERT INTO record_counts (table_name, unit_id, n) VALUES ('{t}', NEW.unit_id, 1)
        ON CONFLICT (table_name, unit_id) DO UPDATE SET n = n + 1;
    END""",
    "del": """AFTER DELETE ON {t} BEGIN
        UPDATE record_counts SET n = n - 1 WHERE table_name = '{t}' AND unit_id = OLD.unit_id;
    END""",
    "upd": """AFTER UPDATE OF unit_id ON {t} WHEN OLD.unit_id IS NOT NEW.unit_id BEGIN
        UPDATE record_counts SET n = n - 1 WHERE table_name = '{t}' AND unit_id = OLD.unit_id;
        INSERT INTO record_counts (table_name, unit_id, n) VALUES ('{t}', NEW.unit_id, 1)
        ON CONFLICT (table_name, unit_id) DO UPDATE SET n = n + 1;
    END""",
}


def upgrade() -> None:
    op.create_table(
        "record_counts",
        sa.Column("table_name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("unit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("n", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("table_name", "unit_id", name=op.f("pk_record_counts")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(PG_FUNCTION)
    for t in COUNTED:
        if postgresql:
            # no write may land between the count and its triggers (the migration's transaction holds the lock)
            op.execute(f"LOCK TABLE {t} IN SHARE ROW EXCLUSIVE MODE")
        op.execute(
            f"INSERT INTO record_counts (table_name, unit_id, n) SELECT '{t}', unit_id, count(*) FROM {t} "
            "GROUP BY unit_id"
        )
        for event, body in (PG_TRIGGERS if postgresql else SQLITE_TRIGGERS).items():
            tail = " FOR EACH STATEMENT EXECUTE FUNCTION dx_record_counts()" if postgresql else ""
            op.execute(f"CREATE TRIGGER dx_count_{t}_{event} {body.format(t=t)}{tail}")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for t in COUNTED:
        for event in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS dx_count_{t}_{event}" + (f" ON {t}" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS dx_record_counts()")
    op.drop_table("record_counts")
