"""The eight KPIs as data: code, names, target, comparison, and the function that computes each."""

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
    target: str | None  # a decimal string, compared exactly (no float rounding at the boundary)
    comparison: str | None  # "gte" | "gt" | None
    sheet: str  # short Vietnamese title for the workbook (31 characters at most)
    query: Callable[[KpiContext], Select]
    monthly: Callable[[KpiContext], Select] | None = None  # (unit_id, month, ok) rows, for the monthly series

    def status(self, numerator: int, denominator: int) -> str:
        if denominator == 0:
            return "no_data"
        if self.target is None:
            return "tracking"
        value, target = Fraction(numerator, denominator), Fraction(self.target)
        met = value >= target if self.comparison == "gte" else value > target
        return "met" if met else "not_met"


KPIS: tuple[Kpi, ...] = (
    Kpi(
        "unit_plan_coverage",
        "Tỷ lệ cơ quan, đơn vị, địa phương ban hành kế hoạch truyền thông về chuyển đổi số",
        "Units that issued their DX communication plan",
        "1.0",
        "gte",
        "Kế hoạch của đơn vị",
        queries.unit_plan_coverage,
    ),
    Kpi(
        "official_training_coverage",
        "Tỷ lệ cán bộ, công chức, viên chức được tập huấn kiến thức cơ bản về chuyển đổi số",
        "Officials trained in the basics of DX",
        "1.0",
        "gte",
        "Tập huấn CBCCVC",
        queries.official_training_coverage,
    ),
    Kpi(
        "school_dx_coverage",
        "Tỷ lệ trường học đưa nội dung chuyển đổi số vào hoạt động",
        "Schools bringing DX content to their students",
        None,
        None,
        "Trường học",
        queries.school_dx_coverage,
    ),
    Kpi(
        "satisfaction_rate",
        "Tỷ lệ người dân, doanh nghiệp hài lòng với thủ tục hành chính",
        "Citizens and businesses satisfied with administrative procedures",
        "0.8",
        "gt",
        "Mức độ hài lòng",
        queries.satisfaction_rate,
    ),
    Kpi(
        "broadcast_compliance",
        "Tỷ lệ đài phát chuyên mục chuyển đổi số hằng tháng đúng kế hoạch",
        "Monthly DX broadcasts aired as planned",
        "1.0",
        "gte",
        "Phát thanh - truyền hình",
        queries.broadcast_compliance,
        queries.broadcast_months,
    ),
    Kpi(
        "forum_compliance",
        "Tỷ lệ thôn, khối phố tổ chức diễn đàn chuyển đổi số hằng tháng",
        "Villages and quarters holding the monthly DX forum",
        "1.0",
        "gte",
        "Diễn đàn thôn, khối phố",
        queries.forum_compliance,
        queries.forum_months,
    ),
    Kpi(
        "annual_report_rate",
        "Tỷ lệ cơ quan, đơn vị, địa phương gửi báo cáo kết quả năm",
        "Units that sent their annual report",
        "1.0",
        "gte",
        "Báo cáo năm",
        queries.annual_report_rate,
    ),
    Kpi(
        "annual_report_timeliness",
        "Tỷ lệ cơ quan, đơn vị, địa phương gửi báo cáo năm đúng hạn (trước ngày 01/12)",
        "Annual reports sent on time (before 1 December)",
        "1.0",
        "gte",
        "Báo cáo đúng hạn",
        queries.annual_report_timeliness,
    ),
)

BY_CODE: dict[str, Kpi] = {k.code: k for k in KPIS}
