"""month tallies of forums and airings, kept by triggers

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTHS = tuple(f"m{m:02d}" for m in range(1, 13))

# source table: (its key column, its tag column or None, its local day on PostgreSQL, on SQLite (strftime's
# arguments)). Written out here: a migration must not change when the application's code does.
SOURCES = {
    "forums": ("unit_id", "kind", "{r}.held_on", "{r}.held_on"),
    "airings": ("broadcast_id", None, "({r}.aired_at AT TIME ZONE 'Asia/Ho_Chi_Minh')", "{r}.aired_at, '+7 hours'"),
}
# an airing's tally row also carries what B1 and B3 judge of its broadcast, so that a KPI reads the tallies alone:
# copied from the broadcast when the row is made, and kept by a trigger on broadcasts (NULL for forums)
OWNERS = {"airings": ("broadcasts", "broadcast_id")}
OWNED = {"unit_id": "bigint", "channel": "varchar", "duration_minutes": "integer"}
COLUMNS = "source, key_id, tag, year, " + ", ".join(MONTHS) + ", " + ", ".join(OWNED)
ADD = ", ".join(f"{m} = month_tallies.{m} + excluded.{m}" for m in MONTHS)


def _tag(relation: str, tag: str | None) -> str:
    return f"{relation}.{tag}" if tag else "''"


def _owned(table: str, relation: str, postgresql: bool) -> tuple[str, str]:
    """The owner's columns (select list, with their alias o_<column>) and the join that reads them."""
    if table not in OWNERS:
        nulls = (f"CAST(NULL AS {t})" if postgresql else "NULL" for t in OWNED.values())
        return ", ".join(f"{n} AS o_{c}" for n, c in zip(nulls, OWNED, strict=True)), ""
    owner, fk = OWNERS[table]
    return ", ".join(f"o.{c} AS o_{c}" for c in OWNED), f" LEFT JOIN {owner} o ON o.id = {relation}.{fk}"


def _pg_rows(table: str, relation: str, delta: int) -> str:
    key, tag, day, _ = SOURCES[table]
    day = day.format(r=relation)
    owned, join = _owned(table, relation, postgresql=True)
    return (
        f"SELECT {relation}.{key} AS k, {_tag(relation, tag)} AS g, "
        f"CAST(extract(year FROM {day}) AS integer) AS y, CAST(extract(month FROM {day}) AS integer) AS m, "
        f"{delta} AS d, {owned} FROM {relation}{join}"
    )


def _pg_pivot(table: str, rows: str) -> str:
    """(key, tag, year, m01..m12) of the rows' deltas, months whose delta is 0 left out, keys in order (two
    writers lock the same tally rows in the same order)."""
    months = ", ".join(f"sum(CASE WHEN m = {i} THEN d ELSE 0 END)" for i in range(1, 13))
    owned = ", ".join(f"max(o_{c}) AS o_{c}" for c in OWNED)
    return (
        f"SELECT '{table}', k, g, y, {months}, {owned} FROM (SELECT k, g, y, m, sum(d) AS d, {owned} "
        f"FROM ({rows}) r GROUP BY k, g, y, m HAVING sum(d) <> 0) x GROUP BY k, g, y ORDER BY k, g, y"
    )


def _pg_function(table: str) -> str:
    def upsert(rows: str) -> str:
        return (
            f"INSERT INTO month_tallies ({COLUMNS}) {_pg_pivot(table, rows)} "
            f"ON CONFLICT (source, key_id, tag, year) DO UPDATE SET {ADD}"
        )

    new, old = _pg_rows(table, "dx_new", 1), _pg_rows(table, "dx_old", -1)
    return f"""
CREATE FUNCTION dx_tally_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM month_tallies WHERE source = '{table}';
    ELSIF TG_OP = 'INSERT' THEN
        {upsert(new)};
    ELSIF TG_OP = 'DELETE' THEN
        {upsert(old)};
    ELSE
        {upsert(f"{new} UNION ALL {old}")};
    END IF;
    RETURN NULL;
END
$$
"""


def _pg_owner_function(table: str) -> str:
    owner, _ = OWNERS[table]
    changed = " OR ".join(f"t.{c} IS DISTINCT FROM n.{c}" for c in OWNED)
    return f"""
CREATE FUNCTION dx_tally_{owner}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE month_tallies t SET {", ".join(f"{c} = n.{c}" for c in OWNED)}
    FROM dx_new n WHERE t.source = '{table}' AND t.key_id = n.id AND ({changed});
    RETURN NULL;
END
$$
"""


PG_TRIGGERS = {
    "ins": "AFTER INSERT ON {t} REFERENCING NEW TABLE AS dx_new",
    "del": "AFTER DELETE ON {t} REFERENCING OLD TABLE AS dx_old",
    "upd": "AFTER UPDATE ON {t} REFERENCING OLD TABLE AS dx_old NEW TABLE AS dx_new",
    "trunc": "AFTER TRUNCATE ON {t}",
}


def _sqlite_upsert(table: str, row: str, delta: int) -> str:
    key, tag, _, day = SOURCES[table]
    day = day.format(r=row)
    month = f"CAST(strftime('%m', {day}) AS INTEGER)"
    cells = ", ".join(f"CASE WHEN {month} = {i} THEN {delta} ELSE 0 END" for i in range(1, 13))
    if table in OWNERS:
        owner, fk = OWNERS[table]
        owned = ", ".join(f"(SELECT {c} FROM {owner} WHERE id = {row}.{fk})" for c in OWNED)
    else:
        owned = ", ".join("NULL" for _ in OWNED)
    return (
        f"INSERT INTO month_tallies ({COLUMNS}) VALUES ('{table}', {row}.{key}, "
        f"{_tag(row, tag)}, CAST(strftime('%Y', {day}) AS INTEGER), {cells}, {owned}) "
        f"ON CONFLICT (source, key_id, tag, year) DO UPDATE SET {ADD};"
    )


def _sqlite_triggers(table: str) -> dict[str, str]:
    key, tag, _, day = SOURCES[table]
    columns = [key, *([tag] if tag else []), day.split("}.", 1)[1].split(",")[0]]
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)
    return {
        "ins": f"AFTER INSERT ON {table} BEGIN {_sqlite_upsert(table, 'NEW', 1)} END",
        "del": f"AFTER DELETE ON {table} BEGIN {_sqlite_upsert(table, 'OLD', -1)} END",
        "upd": f"AFTER UPDATE OF {', '.join(columns)} ON {table} WHEN {changed} BEGIN "
        f"{_sqlite_upsert(table, 'OLD', -1)} {_sqlite_upsert(table, 'NEW', 1)} END",
    }


def _sqlite_backfill(table: str) -> str:
    key, tag, _, day = SOURCES[table]
    day = day.format(r=table)
    month = f"CAST(strftime('%m', {day}) AS INTEGER)"
    cells = ", ".join(f"sum(CASE WHEN {month} = {i} THEN 1 ELSE 0 END)" for i in range(1, 13))
    owned, join = _owned(table, table, postgresql=False)
    owned = ", ".join(f"max({part.split(' AS ')[0]})" for part in owned.split(", "))
    return (
        f"SELECT '{table}', {table}.{key}, {_tag(table, tag)}, CAST(strftime('%Y', {day}) AS INTEGER), {cells}, "
        f"{owned} FROM {table}{join} GROUP BY 2, 3, 4"
    )


def _sqlite_owner_trigger(table: str) -> str:
    owner, _ = OWNERS[table]
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in OWNED)
    return (
        f"AFTER UPDATE OF {', '.join(OWNED)} ON {owner} WHEN {changed} BEGIN UPDATE month_tallies SET "
        f"{', '.join(f'{c} = NEW.{c}' for c in OWNED)} WHERE source = '{table}' AND key_id = NEW.id; END"
    )


def upgrade() -> None:
    op.create_table(
        "month_tallies",
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("tag", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("key_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        *(sa.Column(m, sa.Integer(), nullable=False) for m in MONTHS),
        sa.Column("unit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("source", "year", "tag", "key_id", name=op.f("pk_month_tallies")),
    )
    # the owner's trigger finds an airing's rows by broadcast, whatever the year
    op.create_index("ix_month_tallies_source_key_id", "month_tallies", ["source", "key_id"])
    # a ward's broadcast compliance reads its stations' airing rows
    op.create_index("ix_month_tallies_unit_id_year", "month_tallies", ["unit_id", "year"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    for t in SOURCES:
        if postgresql:
            op.execute(_pg_function(t))
            # no write may land between the backfill and the triggers (the migration's transaction holds the lock)
            op.execute(f"LOCK TABLE {t} IN SHARE ROW EXCLUSIVE MODE")
            op.execute(f"INSERT INTO month_tallies ({COLUMNS}) {_pg_pivot(t, _pg_rows(t, t, 1))}")
            for event, body in PG_TRIGGERS.items():
                op.execute(
                    f"CREATE TRIGGER dx_tally_{t}_{event} {body.format(t=t)} FOR EACH STATEMENT "
                    f"EXECUTE FUNCTION dx_tally_{t}()"
                )
            if t in OWNERS:
                owner = OWNERS[t][0]
                op.execute(_pg_owner_function(t))
                op.execute(
                    f"CREATE TRIGGER dx_tally_{owner}_upd {PG_TRIGGERS['upd'].format(t=owner)} FOR EACH STATEMENT "
                    f"EXECUTE FUNCTION dx_tally_{owner}()"
                )
        else:
            for event, body in _sqlite_triggers(t).items():
                op.execute(f"CREATE TRIGGER dx_tally_{t}_{event} {body}")
            if t in OWNERS:
                op.execute(f"CREATE TRIGGER dx_tally_{OWNERS[t][0]}_upd {_sqlite_owner_trigger(t)}")
            op.execute(f"INSERT INTO month_tallies ({COLUMNS}) {_sqlite_backfill(t)}")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for t in (*SOURCES, *(owner for owner, _ in OWNERS.values())):
        for event in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS dx_tally_{t}_{event}" + (f" ON {t}" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION IF EXISTS dx_tally_{t}()")
    op.drop_table("month_tallies")
