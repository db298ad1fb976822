"""The city's units and the seeded plan (app/plans/seeded.py), loaded on first start through the write service
(as the system: the rules of POST /units, /plans, /activities and /users apply, each row audited as `seed`);
running it again changes nothing."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.common import writes
from app.models import Activity, Plan, Unit, User
from app.plans import seeded
from app.timeutil import local_today

units = Unit.__table__
activities = Activity.__table__
plans = Plan.__table__
users = User.__table__

CITY = ("UBND-TK", "UBND thành phố Tam Kỳ", "city")
DEPARTMENTS = [
    ("P-VHTT", "Phòng Văn hóa và Thông tin", "department"),
    ("P-TCKH", "Phòng Tài chính - Kế hoạch", "department"),
    ("P-KT", "Phòng Kinh tế", "department"),
    ("P-NV", "Phòng Nội vụ", "department"),
    ("P-GDDT", "Phòng Giáo dục và Đào tạo", "department"),
    ("VP-UBND", "Văn phòng HĐND-UBND thành phố", "department"),
    ("TT-VHTTTT", "Trung tâm Văn hóa - Thể thao - Truyền thông thành phố", "media_center"),
    ("TD-TK", "Thành đoàn Tam Kỳ", "association"),
    ("HKN-TK", "Hội khởi nghiệp sáng tạo thành phố Tam Kỳ", "association"),
    ("BTG-TU", "Ban Tuyên giáo Thành ủy", "association"),
]
WARDS = [
    ("PH-ANMY", "Phường An Mỹ", "ward", False),
    ("PH-ANPHU", "Phường An Phú", "ward", False),
    ("PH-ANSON", "Phường An Sơn", "ward", False),
    ("PH-ANXUAN", "Phường An Xuân", "ward", False),
    ("PH-HOAHUONG", "Phường Hòa Hương", "ward", False),
    ("PH-HOATHUAN", "Phường Hòa Thuận", "ward", False),
    ("PH-PHUOCHOA", "Phường Phước Hòa", "ward", False),
    ("PH-TANTHANH", "Phường Tân Thạnh", "ward", True),
    ("PH-TRUONGXUAN", "Phường Trường Xuân", "ward", False),
    ("XA-TAMNGOC", "Xã Tam Ngọc", "commune", False),
    ("XA-TAMPHU", "Xã Tam Phú", "commune", False),
    ("XA-TAMTHANH", "Xã Tam Thanh", "commune", True),
    ("XA-TAMTHANG", "Xã Tam Thăng", "commune", False),
]


SAMPLE_UNITS = Path(__file__).resolve().parent.parent / "data" / "tamky-units.csv"


async def load_units_file(conn: AsyncConnection, path: Path = SAMPLE_UNITS) -> dict[str, int]:
    """Units from a CSV (`code,name,kind,parent_code,staff_count`, parents before their children), through the
    write service as the system: a unit missing is created; a unit that exists keeps everything but gains the
    file's headcount when it has none yet (a headcount someone entered is never overwritten). Running it again
    changes nothing."""
    from app.units.service import spec as unit_spec

    added = staffed = 0
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        code, staff = row["code"], int(row["staff_count"] or 0)
        found = (await conn.execute(select(units.c.id, units.c.staff_count).where(units.c.code == code))).first()
        if found is None:
            parent = await conn.scalar(select(units.c.id).where(units.c.code == row["parent_code"]))
            if parent is None:
                raise ValueError(f"{path.name}: {code}'s parent {row['parent_code']!r} is not a unit")
            body = unit_spec.create(code=code, name=row["name"], kind=row["kind"], parent_id=parent, staff_count=staff)
            await writes.create(conn, unit_spec, None, body, action="seed")
            added += 1
            staffed += bool(staff)
        elif found.staff_count == 0 and staff:
            await writes.update(conn, unit_spec, None, found.id, {"staff_count": staff})
            staffed += 1
    return {"units": added, "headcounts": staffed}


async def seed(conn: AsyncConnection) -> dict[str, int]:
    """Insert whatever of the units, the seeded plan and its activities is missing; returns how many were added."""
    from app.activities.service import spec as activity_spec
    from app.plans.service import spec as plan_spec
    from app.plans.service import target_spec
    from app.units.service import spec as unit_spec

    added = {"units": 0, "plans": 0, "activities": 0}
    known = {r.code: r.id for r in await conn.execute(select(units.c.code, units.c.id))}

    async def ensure_unit(code: str, name: str, kind: str, parent_id: int | None, pilot: bool = False) -> int:
        if code not in known:
            body = unit_spec.create(code=code, name=name, kind=kind, parent_id=parent_id, is_pilot=pilot)
            known[code] = (await writes.create(conn, unit_spec, None, body, action="seed"))["id"]
            added["units"] += 1
        return known[code]

    city_id = await ensure_unit(*CITY, None)
    for code, name, kind in DEPARTMENTS:
        await ensure_unit(code, name, kind, city_id)
    for code, name, kind, pilot in WARDS:
        await ensure_unit(code, name, kind, city_id, pilot)

    plan_id = await conn.scalar(select(plans.c.id).where(plans.c.code == seeded.CODE))
    if plan_id is None:  # the plan and its targets come once, together
        body = plan_spec.create(
            code=seeded.CODE,
            title=seeded.TITLE,
            issued_by_unit_id=city_id,
            starts_on=seeded.PLAN_START,
            ends_on=seeded.PLAN_END,
            required_unit_kinds=list(seeded.REQUIRED_UNIT_KINDS),
        )
        plan_id = (await writes.create(conn, plan_spec, None, body, action="seed"))["id"]
        added["plans"] = 1
        for kpi_code, target, comparison in seeded.TARGETS:
            body = target_spec.create(kpi_code=kpi_code, year=None, target=target, comparison=comparison)
            await writes.create(conn, target_spec, None, body, parent_id=plan_id, action="seed")

    today = local_today()  # "every active unit" as of the local day, like the units list
    active_units = (
        await conn.execute(
            select(units.c.id, units.c.code, units.c.kind).where(
                (units.c.dissolved_on.is_(None)) | (units.c.dissolved_on > today)
            )
        )
    ).all()

    def resolve(names: tuple[str, ...]) -> list[int]:
        return [u.id for u in active_units if u.code in names or u.kind in names]

    have = {r.code for r in await conn.execute(select(activities.c.code).where(activities.c.plan_id == plan_id))}
    for activity in seeded.ACTIVITIES:
        if activity.code in have:
            continue
        body = activity_spec.create(
            plan_id=plan_id,
            code=activity.code,
            title=activity.title,
            frequency=activity.frequency,
            starts_on=seeded.PLAN_START,
            ends_on=seeded.PLAN_END,
            lead_unit_ids=resolve(activity.lead),
            coordinating_unit_ids=resolve(activity.coordinating),
            quota=activity.quota,
        )
        await writes.create(conn, activity_spec, None, body, action="seed")
        added["activities"] += 1
    return added


async def bootstrap_admin(conn: AsyncConnection, username: str | None, password: str | None) -> bool:
    """Create the first lead-office user in P-VHTT when no user exists yet (through the write service: the
    username and password rules of `POST /users` apply)."""
    from app.users.service import user_spec

    if not username or not password:
        return False
    if await conn.scalar(select(users.c.id).limit(1)) is not None:
        return False
    unit_id = await conn.scalar(select(units.c.id).where(units.c.code == "P-VHTT"))
    body = user_spec.create(
        username=username, password=password, role="lead_office", unit_id=unit_id, full_name="Administrator"
    )
    await writes.create(conn, user_spec, None, body, action="seed")
    return True
