"""Citizens' and businesses' satisfaction with administrative procedures, by unit, month and source."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_

from app.common.records import external_ref_key, not_null
from app.common.spec import ResourceSpec
from app.common.writes import Ctx
from app.errors import Invalid
from app.models import SatisfactionSurvey
from app.surveys.schemas import SatisfactionSurveyCreate, SatisfactionSurveyRead, SatisfactionSurveyUpdate

satisfaction_surveys = SatisfactionSurvey.__table__
month = satisfaction_surveys.c.month


async def _satisfied_within_respondents(_ctx: Ctx, data: dict[str, Any], _existing: dict[str, Any] | None) -> None:
    if data["satisfied"] > data["respondents"]:
        raise Invalid(
            f"satisfied ({data['satisfied']}) exceeds respondents ({data['respondents']}).", loc=["body", "satisfied"]
        )


spec = ResourceSpec(
    name="satisfaction-surveys",
    table=satisfaction_surveys,
    create=SatisfactionSurveyCreate,
    update=SatisfactionSurveyUpdate,
    read=SatisfactionSurveyRead,
    date_column="month",
    date_is_month=True,
    filters={
        "month": lambda v: month == v,
        "year": lambda v: and_(month >= f"{v:04d}-01", month <= f"{v:04d}-12"),
    },
    natural_keys=[external_ref_key(what="satisfaction survey")],
    rules=[not_null("unit_id", "month", "source", "respondents", "satisfied"), _satisfied_within_respondents],
)
