"""The eight KPIs as data: code, names, and the function that computes each. Targets are the plan's
(plan_targets; the seeded plan's are in app/plans/seeded.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import Select

from app.kpis import queries
from app.kpis.queries import KpiContext


@dataclass(frozen=True)
class Kpi:
    code: str
    name: str  # Vietnamese, as in the plan
    name_en: str
    sheet: str  # short Vietnamese title for the workbook (31 characters at most)
    query: Callable[[KpiContext], Select]
    monthly: Callable[[KpiContext], Select] | None = None  # (unit_id, due_MM, ok_MM...) rows, for the monthly series


def status(numerator: int, denominator: int, target: str | None, comparison: str | None) -> str:
    """`target` is a decimal string, compared exactly (no float rounding at the boundary)."""
    if denominator == 0:
        return "no_data"
    if target is None:
        return "tracking"
    value, goal = Fraction(numerator, denominator), Fraction(target)
    met = value >= goal if comparison == "gte" else value > goal
    return "met" if met else "not_met"


KPIS: tuple[Kpi, ...] = (
    Kpi(
        "unit_plan_coverage",
        "Tỷ lệ cơ quan, đơn vị, địa phương ban hành kế hoạch truyền thông về chuyển đổi số",
        "Units that issued their DX communication plan",
        "Kế hoạch của đơn vị",
        queries.unit_plan_coverage,
    ),
    Kpi(
        "official_training_coverage",
        "Tỷ lệ cán bộ, công chức, viên chức được tập huấn kiến thức cơ bản về chuyển đổi số",
        "Officials trained in the basics of DX",
        "Tập huấn CBCCVC",
        queries.official_training_coverage,
    ),
    Kpi(
        "school_dx_coverage",
        "Tỷ lệ trường học đưa nội dung chuyển đổi số vào hoạt động",
        "Schools bringing DX content to their students",
        "Trường học",
        queries.school_dx_coverage,
    ),
    Kpi(
        "satisfaction_rate",
        "Tỷ lệ người dân, doanh nghiệp hài lòng với thủ tục hành chính",
        "Citizens and businesses satisfied with administrative procedures",
        "Mức độ hài lòng",
        queries.satisfaction_rate,
    ),
    Kpi(
        "broadcast_compliance",
        "Tỷ lệ đài phát chuyên mục chuyển đổi số hằng tháng đúng kế hoạch",
        "Monthly DX broadcasts aired as planned",
        "Phát thanh - truyền hình",
        queries.broadcast_compliance,
        queries.broadcast_months,
    ),
    Kpi(
        "forum_compliance",
        "Tỷ lệ thôn, khối phố tổ chức diễn đàn chuyển đổi số hằng tháng",
        "Villages and quarters holding the monthly DX forum",
        "Diễn đàn thôn, khối phố",
        queries.forum_compliance,
        queries.forum_months,
    ),
    Kpi(
        "annual_report_rate",
        "Tỷ lệ cơ quan, đơn vị, địa phương gửi báo cáo kết quả năm",
        "Units that sent their annual report",
        "Báo cáo năm",
        queries.annual_report_rate,
    ),
    Kpi(
        "annual_report_timeliness",
        "Tỷ lệ cơ quan, đơn vị, địa phương gửi báo cáo năm đúng hạn (trước ngày 01/12)",
        "Annual reports sent on time (before 1 December)",
        "Báo cáo đúng hạn",
        queries.annual_report_timeliness,
    ),
)

BY_CODE: dict[str, Kpi] = {k.code: k for k in KPIS}
