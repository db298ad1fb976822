"""The city's units and the seeded plan (app/plans/seeded.py), loaded on first start; running it again changes
nothing."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from app.auth.passwords import hash_password
from app.common.text import fold
from app.db import utcnow
from app.models import Activity, ActivityUnit, AuditEvent, Plan, PlanTarget, Unit, User
from app.plans import seeded
from app.timeutil import local_today

units = Unit.__table__
activities = Activity.__table__
activity_units = ActivityUnit.__table__
plans = Plan.__table__
plan_targets = PlanTarget.__table__
users = User.__table__
audit_events = AuditEvent.__table__

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


def _audit(conn: Connection, resource: str, resource_id: int, after: dict[str, Any]) -> None:
    conn.execute(
        insert(audit_events).values(
            at=utcnow(),
            actor_kind="system",
            action="seed",
            resource=resource,
            resource_id=resource_id,
            after={k: (str(v) if isinstance(v, date) else v) for k, v in after.items()},
        )
    )


def _ensure_unit(conn: Connection, code: str, name: str, kind: str, parent_id: int | None, pilot: bool = False) -> int:
    found = conn.scalar(select(units.c.id).where(units.c.code == code))
    if found is not None:
        return found
    now = utcnow()
    values = dict(
        code=code,
        name=name,
        search_name=fold(name),
        kind=kind,
        parent_id=parent_id,
        is_pilot=pilot,
        staff_count=0,
        created_at=now,
        updated_at=now,
        version=1,
    )
    unit_id = conn.execute(insert(units).values(**values).returning(units.c.id)).scalar_one()
    _audit(conn, "units", unit_id, {"code": code, "name": name, "kind": kind, "parent_id": parent_id})
    return unit_id


def _ensure_plan(conn: Connection, city_id: int) -> tuple[int, bool]:
    """The seeded plan's id, and whether it was added now (its targets come with it, once)."""
    found = conn.scalar(select(plans.c.id).where(plans.c.code == seeded.CODE))
    if found is not None:
        return found, False
    now = utcnow()
    values = dict(
        code=seeded.CODE,
        title=seeded.TITLE,
        issued_by_unit_id=city_id,
        starts_on=seeded.PLAN_START,
        ends_on=seeded.PLAN_END,
        required_unit_kinds=list(seeded.REQUIRED_UNIT_KINDS),
    )
    plan_id = conn.execute(
        insert(plans).values(**values, created_at=now, updated_at=now, version=1).returning(plans.c.id)
    ).scalar_one()
    _audit(conn, "plans", plan_id, values)
    for kpi_code, target, comparison in seeded.TARGETS:
        row = dict(plan_id=plan_id, kpi_code=kpi_code, year=None, target=target, comparison=comparison)
        target_id = conn.execute(
            insert(plan_targets).values(**row, created_at=now, updated_at=now, version=1).returning(plan_targets.c.id)
        ).scalar_one()
        _audit(conn, "plan-targets", target_id, row)
    return plan_id, True


SAMPLE_UNITS = Path(__file__).resolve().parent.parent / "data" / "tamky-units.csv"


def load_units_file(conn: Connection, path: Path = SAMPLE_UNITS) -> dict[str, int]:
    """Units from a CSV (`code,name,kind,parent_code,staff_count`, parents before their children): a unit
    missing is created; a unit that exists keeps everything but gains the file's headcount when it has none
    yet (a headcount someone entered is never overwritten). Running it again changes nothing."""
    added = staffed = 0
    with path.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            code, staff = row["code"], int(row["staff_count"] or 0)
            found = conn.execute(select(units.c.id, units.c.staff_count).where(units.c.code == code)).first()
            if found is None:
                parent = conn.scalar(select(units.c.id).where(units.c.code == row["parent_code"]))
                if parent is None:
                    raise ValueError(f"{path.name}: {code}'s parent {row['parent_code']!r} is not a unit")
                unit_id = _ensure_unit(conn, code, row["name"], row["kind"], parent)
                added += 1
            elif found.staff_count == 0 and staff:
                unit_id = found.id
            else:
                continue
            if staff:
                conn.execute(update(units).where(units.c.id == unit_id).values(staff_count=staff, updated_at=utcnow()))
                _audit(conn, "units", unit_id, {"code": code, "staff_count": staff})
                staffed += 1
    return {"units": added, "headcounts": staffed}


def seed(conn: Connection) -> dict[str, int]:
    """Insert whatever of the units, the seeded plan and its activities is missing; returns how many were added."""
    added = {"units": 0, "plans": 0, "activities": 0}
    before = conn.scalar(select(units.c.id).order_by(units.c.id.desc()).limit(1)) or 0
    city_id = _ensure_unit(conn, *CITY, None)
    for code, name, kind in DEPARTMENTS:
        _ensure_unit(conn, code, name, kind, city_id)
    for code, name, kind, pilot in WARDS:
        _ensure_unit(conn, code, name, kind, city_id, pilot)
    added["units"] = len([1 for (i,) in conn.execute(select(units.c.id).where(units.c.id > before))])
    plan_id, plan_added = _ensure_plan(conn, city_id)
    added["plans"] = int(plan_added)

    today = local_today()  # "every active unit" as of the local day, like the units list
    active_units = conn.execute(
        select(units.c.id, units.c.code, units.c.kind).where(
            (units.c.dissolved_on.is_(None)) | (units.c.dissolved_on > today)
        )
    ).all()

    def resolve(names: tuple[str, ...]) -> list[int]:
        return [u.id for u in active_units if u.code in names or u.kind in names]

    for activity in seeded.ACTIVITIES:
        exists = select(activities.c.id).where(activities.c.plan_id == plan_id, activities.c.code == activity.code)
        if conn.scalar(exists) is not None:
            continue
        now = utcnow()
        activity_id = conn.execute(
            insert(activities)
            .values(
                plan_id=plan_id,
                code=activity.code,
                title=activity.title,
                description="",
                frequency=activity.frequency,
                starts_on=seeded.PLAN_START,
                ends_on=seeded.PLAN_END,
                quota=activity.quota,
                created_at=now,
                updated_at=now,
                version=1,
            )
            .returning(activities.c.id)
        ).scalar_one()
        links = [{"activity_id": activity_id, "unit_id": u, "role": "lead"} for u in resolve(activity.lead)]
        links += [
            {"activity_id": activity_id, "unit_id": u, "role": "coordinating"} for u in resolve(activity.coordinating)
        ]
        if links:
            conn.execute(insert(activity_units), links)
        _audit(conn, "activities", activity_id, {"plan_id": plan_id, "code": activity.code, "title": activity.title})
        added["activities"] += 1
    return added


def bootstrap_admin(conn: Connection, username: str | None, password: str | None) -> bool:
    """Create the first lead-office user in P-VHTT when no user exists yet."""
    if not username or not password:
        return False
    if conn.scalar(select(users.c.id).limit(1)) is not None:
        return False
    unit_id = conn.scalar(select(units.c.id).where(units.c.code == "P-VHTT"))
    now = utcnow()
    user_id = conn.execute(
        insert(users)
        .values(
            username=username,
            password_hash=hash_password(password),
            role="lead_office",
            unit_id=unit_id,
            full_name="Administrator",
            active=True,
            created_at=now,
            updated_at=now,
            version=1,
        )
        .returning(users.c.id)
    ).scalar_one()
    _audit(conn, "users", user_id, {"username": username, "role": "lead_office", "unit_id": unit_id})
    return True
