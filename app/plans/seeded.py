"""The seeded plan, KH-TK-2021-2025: what API.md sections 3 and 6 state as constants, as one plan's data.

Loaded by app/seed.py on first start; migration 0006 holds its own frozen copy for existing databases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

CODE = "KH-TK-2021-2025"
TITLE = "Kế hoạch truyền thông nâng cao nhận thức về chuyển đổi số trên địa bàn thành phố Tam Kỳ giai đoạn 2021-2025"
ISSUED_BY = "UBND-TK"
PLAN_START, PLAN_END = date(2021, 7, 1), date(2025, 12, 31)
REQUIRED_UNIT_KINDS = ("department", "media_center", "association", "ward", "commune")

ORG_KINDS = ("department", "association", "ward", "commune")
LOCAL_KINDS = ("ward", "commune")


@dataclass(frozen=True)
class SeededActivity:
    code: str
    title: str
    frequency: str
    lead: tuple[str, ...]  # unit codes or kinds ("every ward"), resolved when seeded
    coordinating: tuple[str, ...]
    quota: dict[str, Any] | None = None


ACTIVITIES: tuple[SeededActivity, ...] = (
    SeededActivity(
        "A", "Các cơ quan, đơn vị, địa phương ban hành kế hoạch truyền thông chuyển đổi số", "yearly", ORG_KINDS, ()
    ),
    SeededActivity(
        "B1",
        "Chuyên mục chuyển đổi số trên Đài Truyền thanh - Truyền hình thành phố (1 kỳ/tháng, phát 4 lần)",
        "monthly",
        ("TT-VHTTTT",),
        ("P-VHTT",),
        {"channel": "city_radio_tv", "airings_per_month": 4},
    ),
    SeededActivity("B2", "Tin bài về chuyển đổi số trên cổng thông tin điện tử", "monthly", ORG_KINDS, ("VP-UBND",)),
    SeededActivity(
        "B3",
        "Phóng sự chuyển đổi số trên đài truyền thanh phường, xã (1 phóng sự 10-15 phút/tháng, phát 3 lần)",
        "monthly",
        LOCAL_KINDS,
        ("P-VHTT", "TT-VHTTTT"),
        {"channel": "ward_radio", "airings_per_month": 3, "min_minutes": 10, "max_minutes": 15},
    ),
    SeededActivity(
        "C1",
        "Hội thảo, tập huấn chuyển đổi số cho cán bộ, công chức, viên chức",
        "yearly",
        ("P-VHTT",),
        ("P-NV", "VP-UBND"),
    ),
    SeededActivity(
        "C2", "Đối thoại giữa lãnh đạo thành phố và doanh nghiệp về chuyển đổi số", "yearly", ("P-KT",), ("HKN-TK",)
    ),
    SeededActivity(
        "C3",
        "Tập huấn kỹ năng số cho người dân tại phường, xã thí điểm",
        "yearly",
        ("P-VHTT",),
        ("XA-TAMTHANH", "PH-TANTHANH"),
    ),
    SeededActivity(
        "C4",
        "Diễn đàn chuyển đổi số hằng tháng tại thôn, khối phố",
        "monthly",
        LOCAL_KINDS,
        ("P-VHTT",),
        {"forum_kind": "village_forum", "forums_per_month": 1},
    ),
    SeededActivity("D", "Tờ rơi, pa-nô điện tử tuyên truyền chuyển đổi số", "yearly", ("TT-VHTTTT",), ("P-VHTT",)),
    SeededActivity("E", "Cuộc thi trực tuyến tìm hiểu về chuyển đổi số", "yearly", ("TD-TK",), ("P-VHTT",)),
    SeededActivity("F", "Sơ kết hằng năm, tổng kết 5 năm thực hiện kế hoạch", "yearly", ("P-VHTT",), ORG_KINDS),
)

# (kpi_code, target, comparison), plan-wide; school_dx_coverage has none (tracked)
TARGETS: tuple[tuple[str, str, str], ...] = (
    ("unit_plan_coverage", "1.0", "gte"),
    ("official_training_coverage", "1.0", "gte"),
    ("satisfaction_rate", "0.8", "gt"),
    ("broadcast_compliance", "1.0", "gte"),
    ("forum_compliance", "1.0", "gte"),
    ("annual_report_rate", "1.0", "gte"),
    ("annual_report_timeliness", "1.0", "gte"),
)
