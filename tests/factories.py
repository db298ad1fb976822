"""The one factory module: operational records, units and budget rows inserted with SQLAlchemy Core.

Records are written straight into their tables (the records endpoints live on other branches) through a
sync engine on the world's own database; defaults make each call short: only what a test is about is named.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import create_engine, insert
from sqlalchemy.engine import Engine

from app.common.text import fold
from app.models import (
    Airing,
    AnnualReport,
    Broadcast,
    BudgetRound,
    BudgetSubmission,
    Forum,
    SatisfactionSurvey,
    Training,
    TrainingParticipant,
    Unit,
    UnitPlan,
)


def instant(text: str) -> datetime:
    """An ISO instant with its offset ('2022-04-30T17:30:00Z')."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert value.tzinfo is not None, "instants carry an offset"
    return value


def _day(value: str | date) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


class Factory:
    """Inserts rows into the database of one world (`Factory.for_world(world)`)."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url)

    @classmethod
    def for_world(cls, world: Any) -> Factory:
        return cls(world.client.app.state.settings.sync_url)

    def close(self) -> None:
        self.engine.dispose()

    def _insert(self, model: Any, **values: Any) -> int:
        table = model.__table__
        if "created_at" in table.c:
            now = datetime.now(UTC)
            values = {"created_at": now, "updated_at": now, "version": 1, **values}
        with self.engine.begin() as conn:
            return conn.execute(insert(table).values(**values).returning(table.c.id)).scalar_one()

    def _insert_many(self, model: Any, rows: list[dict[str, Any]]) -> None:
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(model.__table__), rows)

    def unit(
        self,
        kind: str,
        parent_id: int | None,
        *,
        name: str | None = None,
        staff_count: int = 0,
        established_on: str | date | None = None,
        dissolved_on: str | date | None = None,
    ) -> int:
        code = f"F-{kind[:3].upper()}-{uuid.uuid4().hex[:10]}"
        name = name or f"Đơn vị thử {code}"
        return self._insert(
            Unit,
            code=code,
            name=name,
            search_name=fold(name),
            kind=kind,
            parent_id=parent_id,
            is_pilot=False,
            staff_count=staff_count,
            established_on=established_on and _day(established_on),
            dissolved_on=dissolved_on and _day(dissolved_on),
        )

    def unit_plan(self, unit_id: int, year: int, *, issued_on: str | date | None = None) -> int:
        return self._insert(
            UnitPlan,
            unit_id=unit_id,
            year=year,
            title=f"Kế hoạch truyền thông CĐS năm {year}",
            issued_on=issued_on and _day(issued_on),
        )

    def annual_report(self, unit_id: int, year: int, *, submitted_at: str) -> int:
        return self._insert(
            AnnualReport, unit_id=unit_id, year=year, summary="Báo cáo kết quả", submitted_at=instant(submitted_at)
        )

    def broadcast(
        self,
        unit_id: int,
        *,
        channel: str = "ward_radio",
        duration_minutes: int = 12,
        airings: list[str] = (),
        produced_on: str | date | None = None,
    ) -> int:
        first = instant(airings[0]).date() if airings else date(2022, 1, 1)
        broadcast_id = self._insert(
            Broadcast,
            unit_id=unit_id,
            channel=channel,
            title="Chuyên mục chuyển đổi số",
            duration_minutes=duration_minutes,
            produced_on=_day(produced_on) if produced_on else first,
        )
        self._insert_many(Airing, [{"broadcast_id": broadcast_id, "aired_at": instant(a)} for a in airings])
        return broadcast_id

    def forum(self, unit_id: int, held_on: str | date, *, kind: str = "village_forum") -> int:
        return self._insert(
            Forum,
            unit_id=unit_id,
            kind=kind,
            held_on=_day(held_on),
            title="Diễn đàn CĐS",
            attendees=30,
            questions_answered=5,
        )

    def training(
        self,
        unit_id: int,
        held_on: str | date,
        *,
        audience: str = "officials",
        participants: dict[int, int] | None = None,
    ) -> int:
        training_id = self._insert(
            Training, unit_id=unit_id, audience=audience, title="Tập huấn CĐS", held_on=_day(held_on)
        )
        self._insert_many(
            TrainingParticipant,
            [{"training_id": training_id, "unit_id": u, "count": n} for u, n in (participants or {}).items()],
        )
        return training_id

    def survey(self, unit_id: int, month: str, respondents: int, satisfied: int, *, source: str = "one_stop") -> int:
        return self._insert(
            SatisfactionSurvey,
            unit_id=unit_id,
            month=month,
            source=source,
            respondents=respondents,
            satisfied=satisfied,
        )

    def budget_round(self, period: str, *, deadline: str = "2030-01-01T00:00:00Z") -> int:
        return self._insert(BudgetRound, title=f"Đợt {period}", period=period, deadline=instant(deadline))

    def budget_submission(
        self,
        round_id: int,
        unit_id: int,
        status: str,
        requested: int,
        *,
        appraised: int | None = None,
        approved: int | None = None,
    ) -> int:
        return self._insert(
            BudgetSubmission,
            round_id=round_id,
            unit_id=unit_id,
            title="Tổ chức diễn đàn",
            funding_source="city_budget",
            status=status,
            requested_total_vnd=requested,
            appraised_total_vnd=appraised,
            approved_total_vnd=approved,
            submitted_at=None if status == "draft" else datetime.now(UTC),
            late=False,
        )
