"""`python -m app demo-data`: a small province loads, is the same on every run, and the KPIs read it."""

from __future__ import annotations

from sqlalchemy import create_engine, func, select

from app import cli
from app.config import get_settings
from app.models import Airing, Forum, TrainingParticipant, Unit
from tests.conftest import scratch_database, world_on_new_database

ARGS = ["demo-data", "--wards", "4", "--villages", "12", "--schools", "2", "--years", "2023-2024", "--replays", "3"]


def _load(capsys) -> tuple[str, dict[str, int], str]:
    with scratch_database("demo"):
        cli.main(ARGS)
        out = capsys.readouterr().out
        engine = create_engine(get_settings().sync_url)
        p = TrainingParticipant.__table__
        repeated = select(p.c.training_id).group_by(p.c.training_id, p.c.unit_id).having(func.count() > 1).subquery()
        with engine.connect() as conn:
            counts = {
                "units": conn.scalar(
                    select(func.count()).select_from(Unit.__table__).where(Unit.__table__.c.code.like("DM-%"))
                ),
                "forums": conn.scalar(select(func.count()).select_from(Forum.__table__)),
                "airings": conn.scalar(select(func.count()).select_from(Airing.__table__)),
                "first_airing": str(conn.scalar(select(func.min(Airing.__table__.c.aired_at)))),
                "repeated_participants": conn.scalar(select(func.count()).select_from(repeated)),
            }
        engine.dispose()
        try:
            cli.main(ARGS)
            again = "loaded twice"
        except SystemExit as exc:
            again = str(exc)
        return out, counts, again


def test_demo_data_loads_the_same_province_every_time_and_refuses_a_second_load(capsys):
    out, first, again = _load(capsys)
    assert "demo data:" in out and "airings:" in out, out
    assert first["units"] == 1 + 4 + 12 + 2  # one media centre for so few wards
    assert 2 * 12 * 12 * 0.8 < first["forums"] < 2 * 12 * 12 * 1.2, first
    assert "already loaded" in again
    assert first["repeated_participants"] == 0, "a training counts one unit twice: its export cannot import back"
    _, second, _ = _load(capsys)
    assert second == first


def test_kpis_read_the_demo_province(capsys):
    with world_on_new_database("demo-kpis") as world:
        cli.main(ARGS)
        lead = world.user("lead_office", "P-VHTT")
        r = lead.get("/api/v1/kpis", params={"year": 2024, "as_of": "2025-01-01"})
        assert r.status_code == 200, r.text
        items = {k["code"]: k for k in r.json()["items"]}
        assert items["forum_compliance"]["denominator"] == 12 * 12, r.text
        assert 0 < items["forum_compliance"]["numerator"] < 12 * 12
        assert items["broadcast_compliance"]["denominator"] == (13 + 4 + 2) * 12  # seeded + demo stations
        assert items["satisfaction_rate"]["status"] in ("met", "not_met")
        r = lead.get("/api/v1/reports/annual", params={"year": 2024, "as_of": "2025-01-01", "format": "xlsx"})
        assert r.status_code == 200, r.text


def test_national_sets_the_country_sized_options_whatever_else_is_given(monkeypatch):
    """`--national` is the benchmark's country (10,000 wards, 100,000 villages, five years), loaded as usual."""
    import app.cli.demo_data as demo

    seen = []
    monkeypatch.setattr(cli, "migrate", lambda settings: None)
    monkeypatch.setattr(cli, "seed", lambda settings: {})
    monkeypatch.setattr(demo, "run", lambda settings, opts: seen.append(opts) or {})
    cli.main(["demo-data", "--national", "--wards", "4", "--years", "2024-2024"])
    (opts,) = seen
    assert (opts.wards, opts.villages, opts.years) == (10_000, 100_000, (2021, 2025)), opts
    assert (opts.news_per_month, opts.replays) == (1, 3), opts
    cli.main(["demo-data", "--wards", "4"])
    assert (seen[1].wards, seen[1].villages) == (4, 2000), "without --national the options are the user's"


def test_demo_data_help_shows_its_defaults_and_the_database_it_writes_to(capsys):
    try:
        cli.main(["demo-data", "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert "(default: 250)" in out and "(default: 2021-2025)" in out, out
    assert "DX_DATABASE_URL" in out and get_settings().sync_url.split("://")[0] in out, out


def test_demo_data_refuses_a_database_with_real_records_unless_forced(capsys):
    with world_on_new_database("demo-real") as world:
        ward = world.user("unit", "PH-TANTHANH")
        forum = {
            "unit_id": ward.unit_id,
            "kind": "business_dialogue",
            "held_on": "2024-05-12",
            "title": "Đối thoại doanh nghiệp thật",
            "attendees": 30,
            "questions_answered": 4,
        }
        assert ward.post("/api/v1/forums", json=forum).status_code == 201
        try:
            cli.main(ARGS)
            refused = "loaded"
        except SystemExit as exc:
            refused = str(exc)
        assert "real records" in refused and "--force" in refused, refused
        cli.main([*ARGS, "--force"])
        assert "demo data:" in capsys.readouterr().out


def test_wards_merged_in_mid_plan_point_at_a_ward_that_exists_on_both_databases(capsys):
    """A ward merged into one written in a later batch failed SQLite's foreign key check: the whole load
    stopped (scripts/annual_workbook.py on the embedded database)."""
    args = ["demo-data", "--wards", "300", "--villages", "300", "--schools", "0", "--years", "2024-2024"]
    with scratch_database("demo-merged"):
        cli.main([*args, "--replays", "0"])
        engine = create_engine(get_settings().sync_url)
        u = Unit.__table__
        survivor = u.alias("survivor")
        with engine.connect() as conn:
            merged = conn.execute(
                select(u.c.id, survivor.c.id, survivor.c.kind)
                .join(survivor, survivor.c.id == u.c.merged_into_id)
                .where(u.c.code.like("DM-%"))
            ).all()
        engine.dispose()
    assert merged, "with 300 wards, some are merged away in mid-plan"
    assert all(kind in ("ward", "commune") for _, _, kind in merged), merged
