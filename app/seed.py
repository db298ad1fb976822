"""The plan's units and activities, loaded on first start; running it again changes nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from app.auth.passwords import hash_password
from app.common.text import fold
from app.db import utcnow
from app.models import Activity, ActivityUnit, AuditEvent, Unit, User

units = Unit.__table__
activities = Activity.__table__
activity_units = ActivityUnit.__table__
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

PLAN_START, PLAN_END = date(2021, 7, 1), date(2025, 12, 31)
ORG_KINDS = ("department", "association", "ward", "commune")
LOCAL_KINDS = ("ward", "commune")

# code, title, frequency, lead (codes or kinds), coordinating (codes or kinds)
ACTIVITIES: list[tuple[str, str, str, tuple[str, ...], tuple[str, ...]]] = [
    ("A", "Các cơ quan, đơn vị, địa phương ban hành kế hoạch truyền thông chuyển đổi số", "yearly", ORG_KINDS, ()),
    (
        "B1",
        "Chuyên mục chuyển đổi số trên Đài Truyền thanh - Truyền hình thành phố (1 kỳ/tháng, phát 4 lần)",
        "monthly",
        ("TT-VHTTTT",),
        ("P-VHTT",),
    ),
    ("B2", "Tin bài về chuyển đổi số trên cổng thông tin điện tử", "monthly", ORG_KINDS, ("VP-UBND",)),
    (
        "B3",
        "Phóng sự chuyển đổi số trên đài truyền thanh phường, xã (1 phóng sự 10-15 phút/tháng, phát 3 lần)",
        "monthly",
        LOCAL_KINDS,
        ("P-VHTT", "TT-VHTTTT"),
    ),
    (
        "C1",
        "Hội thảo, tập huấn chuyển đổi số cho cán bộ, công chức, viên chức",
        "yearly",
        ("P-VHTT",),
        ("P-NV", "VP-UBND"),
    ),
    ("C2", "Đối thoại giữa lãnh đạo thành phố và doanh nghiệp về chuyển đổi số", "yearly", ("P-KT",), ("HKN-TK",)),
    (
        "C3",
        "Tập huấn kỹ năng số cho người dân tại phường, xã thí điểm",
        "yearly",
        ("P-VHTT",),
        ("XA-TAMTHANH", "PH-TANTHANH"),
    ),
    ("C4", "Diễn đàn chuyển đổi số hằng tháng tại thôn, khối phố", "monthly", LOCAL_KINDS, ("P-VHTT",)),
    ("D", "Tờ rơi, pa-nô điện tử tuyên truyền chuyển đổi số", "yearly", ("TT-VHTTTT",), ("P-VHTT",)),
    ("E", "Cuộc thi trực tuyến tìm hiểu về chuyển đổi số", "yearly", ("TD-TK",), ("P-VHTT",)),
    ("F", "Sơ kết hằng năm, tổng kết 5 năm thực hiện kế hoạch", "yearly", ("P-VHTT",), ORG_KINDS),
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


def seed(conn: Connection) -> dict[str, int]:
    """Insert whatever of the plan's units and activities is missing; returns how many were added."""
    added = {"units": 0, "activities": 0}
    before = conn.scalar(select(units.c.id).order_by(units.c.id.desc()).limit(1)) or 0
    city_id = _ensure_unit(conn, *CITY, None)
    for code, name, kind in DEPARTMENTS:
        _ensure_unit(conn, code, name, kind, city_id)
    for code, name, kind, pilot in WARDS:
        _ensure_unit(conn, code, name, kind, city_id, pilot)
    added["units"] = len([1 for (i,) in conn.execute(select(units.c.id).where(units.c.id > before))])

    today = date.today()
    active_units = conn.execute(
        select(units.c.id, units.c.code, units.c.kind).where(
            (units.c.dissolved_on.is_(None)) | (units.c.dissolved_on > today)
        )
    ).all()

    def resolve(names: tuple[str, ...]) -> list[int]:
        return [u.id for u in active_units if u.code in names or u.kind in names]

    for code, title, frequency, lead, coordinating in ACTIVITIES:
        if conn.scalar(select(activities.c.id).where(activities.c.code == code)) is not None:
            continue
        now = utcnow()
        activity_id = conn.execute(
            insert(activities)
            .values(
                code=code,
                title=title,
                description="",
                frequency=frequency,
                starts_on=PLAN_START,
                ends_on=PLAN_END,
                created_at=now,
                updated_at=now,
                version=1,
            )
            .returning(activities.c.id)
        ).scalar_one()
        links = [{"activity_id": activity_id, "unit_id": u, "role": "lead"} for u in resolve(lead)]
        links += [{"activity_id": activity_id, "unit_id": u, "role": "coordinating"} for u in resolve(coordinating)]
        if links:
            conn.execute(insert(activity_units), links)
        _audit(conn, "activities", activity_id, {"code": code, "title": title})
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
