"""month tallies of trainings and of their participants, kept by triggers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:00:00

Two more sources of `month_tallies` (migration 0010), for the training KPIs:
- `trainings`: key = the organising unit, tag = audience, a count of trainings per month of `held_on`;
- `training_participants`: key = the participants' unit, tag = the training's audience, the sum of `count` per
  month of the training's `held_on`. A row's month and tag live on its training, so the tally changes when a
  participant row changes (joined to its training) and when a training's day or audience changes (joined to its
  participants). A training deleted takes its participants with it (ON DELETE CASCADE): by the time their own
  trigger runs the training is gone and they join nothing, so the training takes their counts away itself, in a
  BEFORE DELETE row trigger, while they are still there.
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTHS = tuple(f"m{m:02d}" for m in range(1, 13))
COLUMNS = "source, key_id, tag, year, " + ", ".join(MONTHS)
ADD = ", ".join(f"{m} = month_tallies.{m} + excluded.{m}" for m in MONTHS)
CONFLICT = f"ON CONFLICT (source, key_id, tag, year) DO UPDATE SET {ADD}"
PG_EVENTS = {
    "ins": "AFTER INSERT ON {t} REFERENCING NEW TABLE AS dx_new",
    "del": "AFTER DELETE ON {t} REFERENCING OLD TABLE AS dx_old",
    "upd": "AFTER UPDATE ON {t} REFERENCING OLD TABLE AS dx_old NEW TABLE AS dx_new",
    "trunc": "AFTER TRUNCATE ON {t}",
}
SOURCES = ("trainings", "training_participants")


def trainings_rows(trainings: str, sign: int) -> str:
    """(k, g, day, d) of the trainings' tally over a relation of trainings (the table, or a transition table)."""
    return f"SELECT t.unit_id AS k, t.audience AS g, t.held_on AS day, {sign} AS d FROM {trainings} t"


def participants_rows(participants: str, trainings: str, sign: int) -> str:
    """(k, g, day, d) of the participants' tally over a relation of participants joined to one of trainings."""
    return (
        f"SELECT p.unit_id AS k, t.audience AS g, t.held_on AS day, {sign} * p.count AS d "
        f"FROM {participants} p JOIN {trainings} t ON t.id = p.training_id"
    )


def pg_pivot(parts: list[str]) -> str:
    """(source key, tag, year, m01..m12) summed from (k, g, day, d) rows, months whose delta is 0 left out, keys
    in order (two writers lock the same tally rows in the same order)."""
    months = ", ".join(f"sum(CASE WHEN m = {i} THEN d ELSE 0 END) AS m{i:02d}" for i in range(1, 13))
    union = " UNION ALL ".join(parts)
    return (
        f"SELECT k, g, y, {months} FROM (SELECT k, g, CAST(extract(year FROM day) AS integer) AS y, "
        f"CAST(extract(month FROM day) AS integer) AS m, sum(d) AS d FROM ({union}) r GROUP BY 1, 2, 3, 4 "
        f"HAVING sum(d) <> 0) x GROUP BY k, g, y ORDER BY k, g, y"
    )


def pg_upsert(source: str, parts: list[str]) -> str:
    return (
        f"INSERT INTO month_tallies ({COLUMNS}) SELECT '{source}', k, g, y, {', '.join(MONTHS)} "
        f"FROM ({pg_pivot(parts)}) p {CONFLICT}"
    )


def _lock_first(*changed: str) -> list[str]:
    """Before a participants' statement counts: its trainings (FOR SHARE: a training moved meanwhile is waited
    for and then read as moved, not as it was), then their own tally rows. Every path takes these locks in this
    order: a training, its tally row, the participants' tally rows (a create writes the training before its
    participants; an update moves the training's row before its participants'; a delete removes the
    participants first, and takes the training's tally row here before theirs), so two writers never wait for
    each other in a circle."""
    ids = " UNION ".join(f"SELECT training_id FROM {c}" for c in changed)
    return [
        f"PERFORM 1 FROM trainings t WHERE t.id IN ({ids}) ORDER BY t.id FOR SHARE",
        "PERFORM 1 FROM month_tallies m WHERE m.source = 'trainings' AND (m.year, m.tag, m.key_id) IN "
        f"(SELECT CAST(extract(year FROM t.held_on) AS integer), t.audience, t.unit_id FROM trainings t "
        f"WHERE t.id IN ({ids})) ORDER BY m.year, m.tag, m.key_id FOR UPDATE",
    ]


# (the source's function, the table it is on, its statements per event) on PostgreSQL
PG_FUNCTIONS = {
    "dx_tally_trainings": (
        "trainings",
        {
            "INSERT": [pg_upsert("trainings", [trainings_rows("dx_new", 1)])],
            "DELETE": [pg_upsert("trainings", [trainings_rows("dx_old", -1)])],
            "UPDATE": [pg_upsert("trainings", [trainings_rows("dx_new", 1), trainings_rows("dx_old", -1)])],
        },
    ),
    "dx_tally_training_participants": (
        "training_participants",
        {
            "INSERT": [
                *_lock_first("dx_new"),
                pg_upsert("training_participants", [participants_rows("dx_new", "trainings", 1)]),
            ],
            "DELETE": [
                *_lock_first("dx_old"),
                pg_upsert("training_participants", [participants_rows("dx_old", "trainings", -1)]),
            ],
            "UPDATE": [
                *_lock_first("dx_new", "dx_old"),
                pg_upsert(
                    "training_participants",
                    [participants_rows("dx_new", "trainings", 1), participants_rows("dx_old", "trainings", -1)],
                ),
            ],
        },
    ),
}


def _pg_source_function(name: str, source: str, bodies: dict[str, list[str]]) -> str:
    """A source's statement-trigger function: a TRUNCATE clears its tallies, other events run their statements."""
    branches = "\n    ELS".join(
        f"IF TG_OP = '{op_}' THEN\n        " + ";\n        ".join(statements) + ";"
        for op_, statements in bodies.items()
    )
    statement = (
        f"IF TG_OP = 'TRUNCATE' THEN\n        DELETE FROM month_tallies WHERE source = '{source}';\n"
        f"    ELS{branches}\n    END IF"
    )
    return _pg_function(name, statement, "NULL")


def _pg_function(name: str, statement: str, returns: str) -> str:
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {statement};
    RETURN {returns};
END
$$
"""


# a training's day or audience changed: its participants' counts move with it
PG_MOVED = _pg_function(
    "dx_tally_trainings_moved",
    pg_upsert(
        "training_participants",
        [
            participants_rows("training_participants", "dx_new", 1),
            participants_rows("training_participants", "dx_old", -1),
        ],
    ),
    "NULL",
)
# a training about to be deleted takes its participants' counts away while they are still there (its own tally
# row locked first, the order every path keeps)
PG_GONE = _pg_function(
    "dx_tally_trainings_gone",
    "PERFORM 1 FROM month_tallies m WHERE m.source = 'trainings' AND m.year = CAST(extract(year FROM OLD.held_on) "
    "AS integer) AND m.tag = OLD.audience AND m.key_id = OLD.unit_id FOR UPDATE;\n    "
    + pg_upsert(
        "training_participants",
        [
            "SELECT p.unit_id AS k, OLD.audience AS g, OLD.held_on AS day, -p.count AS d "
            "FROM training_participants p WHERE p.training_id = OLD.id"
        ],
    ),
    "OLD",
)


def sqlite_upsert(source: str, select_: str, where: str) -> str:
    """One row of (k, g, day, d) (a row trigger's NEW or OLD, perhaps joined) upserted into its month."""
    month = "CAST(strftime('%m', day) AS INTEGER)"
    cells = ", ".join(f"CASE WHEN {month} = {i} THEN d ELSE 0 END" for i in range(1, 13))
    return (
        f"INSERT INTO month_tallies ({COLUMNS}) SELECT '{source}', k, g, CAST(strftime('%Y', day) AS INTEGER), "
        f"{cells} FROM ({select_}) r WHERE {where} {CONFLICT};"
    )


def _sqlite_participant(row: str, sign: int) -> str:
    select_ = (
        f"SELECT {row}.unit_id AS k, t.audience AS g, t.held_on AS day, {sign} * {row}.count AS d "
        f"FROM trainings t WHERE t.id = {row}.training_id"
    )
    return sqlite_upsert("training_participants", select_, "true")


def _sqlite_participants_of(row: str, sign: int) -> str:
    select_ = (
        f"SELECT p.unit_id AS k, {row}.audience AS g, {row}.held_on AS day, {sign} * p.count AS d "
        f"FROM training_participants p WHERE p.training_id = {row}.id"
    )
    return sqlite_upsert("training_participants", select_, "true")


def _sqlite_training(row: str, sign: int) -> str:
    return sqlite_upsert("trainings", f"SELECT {row}.unit_id AS k, {row}.audience AS g, {row}.held_on AS day, "
                         f"{sign} AS d", "true")  # fmt: skip


SQLITE_TRIGGERS = {
    "dx_tally_trainings_ins": f"AFTER INSERT ON trainings BEGIN {_sqlite_training('NEW', 1)} END",
    "dx_tally_trainings_del": f"AFTER DELETE ON trainings BEGIN {_sqlite_training('OLD', -1)} END",
    "dx_tally_trainings_upd": "AFTER UPDATE OF unit_id, audience, held_on ON trainings WHEN OLD.unit_id IS NOT "
    "NEW.unit_id OR OLD.audience IS NOT NEW.audience OR OLD.held_on IS NOT NEW.held_on BEGIN "
    f"{_sqlite_training('OLD', -1)} {_sqlite_training('NEW', 1)} END",
    "dx_tally_trainings_upd_participants": "AFTER UPDATE OF audience, held_on ON trainings WHEN OLD.audience IS NOT "
    f"NEW.audience OR OLD.held_on IS NOT NEW.held_on BEGIN {_sqlite_participants_of('OLD', -1)} "
    f"{_sqlite_participants_of('NEW', 1)} END",
    "dx_tally_trainings_gone": f"BEFORE DELETE ON trainings BEGIN {_sqlite_participants_of('OLD', -1)} END",
    "dx_tally_training_participants_ins": "AFTER INSERT ON training_participants BEGIN "
    f"{_sqlite_participant('NEW', 1)} END",
    "dx_tally_training_participants_del": "AFTER DELETE ON training_participants BEGIN "
    f"{_sqlite_participant('OLD', -1)} END",
    "dx_tally_training_participants_upd": "AFTER UPDATE OF unit_id, training_id, count ON training_participants "
    "WHEN OLD.unit_id IS NOT NEW.unit_id OR OLD.training_id IS NOT NEW.training_id OR OLD.count IS NOT NEW.count "
    f"BEGIN {_sqlite_participant('OLD', -1)} {_sqlite_participant('NEW', 1)} END",
}


def recount(source: str, postgresql: bool) -> str:
    """(source, key_id, tag, year, m01..m12) of a source counted from scratch: the backfill, and what a test
    holds the tallies equal to."""
    if source == "trainings":
        part = trainings_rows("trainings", 1)
    else:
        part = participants_rows("training_participants", "trainings", 1)
    if postgresql:
        return f"SELECT '{source}', k, g, y, {', '.join(MONTHS)} FROM ({pg_pivot([part])}) p"
    month = "CAST(strftime('%m', day) AS INTEGER)"
    cells = ", ".join(f"sum(CASE WHEN {month} = {i} THEN d ELSE 0 END)" for i in range(1, 13))
    return f"SELECT '{source}', k, g, CAST(strftime('%Y', day) AS INTEGER), {cells} FROM ({part}) r GROUP BY 2, 3, 4"


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        # no write may land between the backfill and the triggers (the migration's transaction holds the locks)
        op.execute("LOCK TABLE trainings, training_participants IN SHARE ROW EXCLUSIVE MODE")
        for name, (source, bodies) in PG_FUNCTIONS.items():
            op.execute(_pg_source_function(name, source, bodies))
            for event, body in PG_EVENTS.items():
                op.execute(
                    f"CREATE TRIGGER {name}_{event} {body.format(t=source)} FOR EACH STATEMENT EXECUTE FUNCTION "
                    f"{name}()"
                )
        op.execute(PG_MOVED)
        op.execute(
            # after dx_tally_trainings_upd (same-event triggers fire in name order): the training's tally row first
            f"CREATE TRIGGER dx_tally_trainings_upd_participants {PG_EVENTS['upd'].format(t='trainings')} "
            "FOR EACH STATEMENT "
            "EXECUTE FUNCTION dx_tally_trainings_moved()"
        )
        op.execute(PG_GONE)
        op.execute(
            "CREATE TRIGGER dx_tally_trainings_gone BEFORE DELETE ON trainings FOR EACH ROW "
            "EXECUTE FUNCTION dx_tally_trainings_gone()"
        )
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    for source in SOURCES:
        op.execute(f"INSERT INTO month_tallies ({COLUMNS}) {recount(source, postgresql)}")
    # the planner's statistics still say the table holds no such source: a ward's KPI read the whole source
    # through its key index until autovacuum came by (national: 116 ms instead of 0.7 ms). Not on SQLite,
    # where statistics once gathered are never refreshed by themselves.
    if postgresql:
        op.execute("ANALYZE month_tallies")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    names = [*SQLITE_TRIGGERS]
    for name in names:
        table = "training_participants" if name.startswith("dx_tally_training_participants") else "trainings"
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgresql else ""))
    if postgresql:
        op.execute("DROP TRIGGER IF EXISTS dx_tally_trainings_trunc ON trainings")
        op.execute("DROP TRIGGER IF EXISTS dx_tally_training_participants_trunc ON training_participants")
        for name in (*PG_FUNCTIONS, "dx_tally_trainings_moved", "dx_tally_trainings_gone"):
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.execute("DELETE FROM month_tallies WHERE source IN ('trainings', 'training_participants')")
