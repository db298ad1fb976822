"""One city for every report test of this package: its numbers are known exactly (see test_reports.CITY)."""

from __future__ import annotations

import pytest

from tests.conftest import world_on_new_database
from tests.factories import Factory
from tests.reports.city import YEAR


@pytest.fixture(scope="package")
def city():
    with world_on_new_database("reports") as world:
        f = Factory.for_world(world)
        u = world.unit_id
        tanthanh, anmy, center = u("PH-TANTHANH"), u("PH-ANMY"), u("TT-VHTTTT")
        for code, day in (("P-VHTT", "2024-01-10"), ("PH-TANTHANH", "2024-02-01"), ("PH-ANMY", "2024-03-01")):
            f.unit_plan(u(code), YEAR, issued_on=day)
        f.annual_report(tanthanh, YEAR, submitted_at="2024-11-20T03:00:00Z")
        f.annual_report(anmy, YEAR, submitted_at="2024-12-05T03:00:00Z")
        v1, v2 = f.unit("village", tanthanh), f.unit("village", anmy)
        for month in range(1, 13):
            f.forum(v1, f"2024-{month:02d}-15")
        f.forum(v2, "2024-01-15")
        for month in ("01", "02"):
            f.broadcast(tanthanh, airings=[f"2024-{month}-0{d}T02:00:00Z" for d in (3, 4, 5)])
        f.broadcast(
            center,
            channel="city_radio_tv",
            duration_minutes=30,
            airings=[f"2024-01-0{d}T12:00:00Z" for d in (3, 4, 5, 6)],
        )
        school = f.unit("school", tanthanh, staff_count=10)
        f.training(u("P-VHTT"), "2024-04-02", participants={school: 4})
        f.training(school, "2024-09-10", audience="students", participants={school: 300})
        f.survey(tanthanh, "2024-05", 100, 90)
        f.survey(anmy, "2024-05", 100, 60)
        h1, h2, old = f.budget_round("2024-H1"), f.budget_round("2024-H2"), f.budget_round("2023-H2")
        f.budget_submission(h1, tanthanh, "submitted", 1_000_000)
        f.budget_submission(h2, tanthanh, "approved", 5_000_000, appraised=4_000_000, approved=3_500_000)
        f.budget_submission(h1, anmy, "rejected", 2_000_000, appraised=1_500_000)
        f.budget_submission(h1, anmy, "draft", 9_000_000)
        f.budget_submission(old, tanthanh, "approved", 7_000_000, appraised=7_000_000, approved=7_000_000)
        world.ids = {"tanthanh": tanthanh, "anmy": anmy, "center": center, "v1": v1, "v2": v2, "school": school}
        world.lead = world.user("lead_office", "P-VHTT")
        world.ward = world.user("unit", "PH-TANTHANH")
        yield world
        f.close()
