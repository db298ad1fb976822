"""Budget rounds and submissions: specs for the shared machinery, the money rules, transitions, summary."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Integer, Table, and_, case, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.permissions import Perm
from app.auth.principal import Principal
from app.budget import workflow
from app.budget.schemas import (
    BudgetRoundCreate,
    BudgetRoundRead,
    BudgetRoundUpdate,
    BudgetStatus,
    BudgetSubmissionCreate,
    BudgetSubmissionRead,
    BudgetSubmissionUpdate,
)
from app.common import repository, writes
from app.common.spec import Child, Event, NaturalKey, ResourceSpec, require_fields
from app.common.types import MAX_SAFE_INT
from app.common.writes import Ctx, check_if_match
from app.db import dicts, utcnow
from app.errors import Conflict, Invalid, NotFound
from app.models import Activity, BudgetItem, BudgetRound, BudgetSubmission, BudgetTransition
from app.webhooks import outbox

rounds = BudgetRound.__table__
submissions = BudgetSubmission.__table__
items = BudgetItem.__table__
transitions = BudgetTransition.__table__
activities = Activity.__table__


# --- rounds -------------------------------------------------------------------------------------


async def _round_required(ctx: Ctx, data: dict[str, Any], existing: dict[str, Any] | None) -> None:
    require_fields(data, ("title", "period", "deadline"))  # a PATCH may not null a required field


async def _keep_round_with_submissions(ctx: Ctx, existing: dict[str, Any]) -> None:
    used = await ctx.conn.scalar(select(submissions.c.id).where(submissions.c.round_id == existing["id"]).limit(1))
    if used is not None:
        raise Conflict("The round has submissions; it cannot be deleted.")


round_spec = ResourceSpec(
    name="budget-rounds",
    table=rounds,
    create=BudgetRoundCreate,
    update=BudgetRoundUpdate,
    read=BudgetRoundRead,
    read_perm=Perm.CATALOGUE_READ,
    write_perm=Perm.CATALOGUE_WRITE,
    unit_column=None,
    filters={"period": lambda v: rounds.c.period == v},
    rules=[_round_required],
    on_delete=_keep_round_with_submissions,
)


# --- submissions: money -------------------------------------------------------------------------


def amount_of(item: dict[str, Any]) -> int:
    """An item's amount in integer VND (Python ints: exact at any size, checked against the limit)."""
    return int(item["quantity"]) * int(item["unit_cost_vnd"])


def _items_to_rows(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "position": i,
            "description": v["description"],
            "quantity": v["quantity"],
            "unit_cost_vnd": v["unit_cost_vnd"],
            "amount_vnd": amount_of(v),
        }
        for i, v in enumerate(values)
    ]


def _items_from_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = ("description", "quantity", "unit_cost_vnd", "amount_vnd")
    return [{k: r[k] for k in keys} for r in rows]


def _history_from_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "action": r["action"],
            "from": r["from_status"],
            "to": r["to_status"],
            "actor": {
                "kind": r["actor_kind"],
                "id": r["actor_id"],
                "role": r["actor_role"],
                "unit_id": r["actor_unit_id"],
            },
            "at": r["at"],
            "note": r["note"],
        }
        for r in rows
    ]


def _no_rows(_: Any) -> list[dict[str, Any]]:
    return []  # history is written by transitions only, never from a body


async def _check_submission(ctx: Ctx, data: dict[str, Any], existing: dict[str, Any] | None) -> None:
    require_fields(data, ("round_id", "title", "funding_source", "items"))
    if await ctx.conn.scalar(select(rounds.c.id).where(rounds.c.id == data["round_id"])) is None:
        raise Invalid(f"round_id {data['round_id']} is not a budget round.", loc=["body", "round_id"])
    activity_id = data.get("activity_id")
    if (
        activity_id is not None
        and await ctx.conn.scalar(select(activities.c.id).where(activities.c.id == activity_id)) is None
    ):
        raise Invalid(f"activity_id {activity_id} is not an activity.", loc=["body", "activity_id"])
    total = 0
    for i, item in enumerate(data["items"]):
        amount = amount_of(item)
        if amount > MAX_SAFE_INT:
            raise Invalid(
                f"items[{i}]: quantity x unit_cost_vnd = {amount} VND is above the limit of {MAX_SAFE_INT}.",
                loc=["body", "items", i, "unit_cost_vnd"],
            )
        total += amount
    if total > MAX_SAFE_INT:
        raise Invalid(f"The requested total {total} VND is above the limit of {MAX_SAFE_INT}.", loc=["body", "items"])
    if existing is not None and existing["status"] != BudgetStatus.DRAFT:  # a returned submission counts in the totals
        await check_year_total(ctx.conn, data, "requested_total_vnd", total, loc=["body", "items"])


AMOUNTS = ("requested_total_vnd", "appraised_total_vnd", "approved_total_vnd")


async def check_year_total(
    conn: AsyncConnection, record: dict[str, Any], column: str, amount: int, *, loc: list[str | int]
) -> None:
    """Round summaries and the annual report add up a year's non-draft submissions; refuse (422, naming the
    total) a change that would take one of those sums past 2^53 - 1, which JavaScript clients cannot read
    exactly. The year's sum bounds every round's, unit's and status's sum within it."""
    period = await conn.scalar(select(rounds.c.period).where(rounds.c.id == record["round_id"]))
    year = str(period)[:4]
    others = await conn.scalar(
        select(func.coalesce(func.sum(submissions.c[column]), 0))
        .select_from(submissions.join(rounds, rounds.c.id == submissions.c.round_id))
        .where(
            rounds.c.period.like(f"{year}%"),
            submissions.c.status != BudgetStatus.DRAFT.value,
            submissions.c.id != record.get("id", 0),
        )
    )
    total = int(others or 0) + amount
    if total > MAX_SAFE_INT:
        name = column.removesuffix("_vnd").replace("_", " ")
        raise Invalid(
            f"The {name} of {year}'s budget submissions would be {total} VND, above the limit of {MAX_SAFE_INT} "
            "that round summaries and the annual report show exactly.",
            loc=loc,
        )


def _derive(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"requested_total_vnd": sum(amount_of(i) for i in data["items"])}
    if data.get("status") is None:  # a new submission starts as a draft
        out.update(status=BudgetStatus.DRAFT.value, late=False)
    return out


async def _may_write_submission(ctx: Ctx, record: dict[str, Any]) -> None:
    """Own unit only, in draft or returned (a new one is a draft)."""
    workflow.check_editable(
        ctx.principal, {"status": BudgetStatus.DRAFT, **{k: v for k, v in record.items() if v is not None}}
    )


def _visibility(principal: Principal, t: Table):
    """Drafts are seen by their own unit alone; other statuses also by the city-wide budget readers."""
    own = t.c.unit_id == principal.unit_id
    if principal.can(Perm.BUDGET_READ):
        return or_(t.c.status != BudgetStatus.DRAFT.value, own)
    return own


spec = ResourceSpec(
    name="budget-submissions",
    table=submissions,
    create=BudgetSubmissionCreate,
    update=BudgetSubmissionUpdate,
    read=BudgetSubmissionRead,
    read_perm=Perm.RECORDS_READ,  # every role; `visibility` decides which rows
    write_perm=Perm.BUDGET_OWN,
    date_column="submitted_at",
    date_is_instant=True,
    filters={
        "round_id": lambda v: submissions.c.round_id == v,
        "activity_id": lambda v: submissions.c.activity_id == v,
        "status": lambda v: submissions.c.status == str(v),
    },
    children=[
        Child("items", items, "submission_id", _items_to_rows, _items_from_rows, order_by="position"),
        Child("history", transitions, "submission_id", _no_rows, _history_from_rows, order_by="id"),
    ],
    natural_keys=[
        NaturalKey(
            ("unit_id", "external_ref"), "A submission with this external_ref exists for this unit.", nullable=True
        )
    ],
    rules=[_check_submission],
    derive=_derive,
    visibility=_visibility,
    may_write=_may_write_submission,
    per_caller=lambda principal, record: {"allowed_actions": workflow.allowed_actions(principal, record)},
)


def _event_of(event: Event) -> str | None:
    """Each transition sends `budget_submission.<status it reached>`; creation and edits (drafts) send none."""
    t = workflow.TRANSITIONS.get(event.action)
    return f"budget_submission.{t.target.value}" if t is not None else None


spec.after.append(outbox.hook(spec, _event_of))


# --- transitions --------------------------------------------------------------------------------


async def begin_transition(
    conn: AsyncConnection, principal: Principal, record_id: int, action: str, *, if_match: str | None
) -> dict[str, Any]:
    """Lock the submission and check, in API.md's order: 404, 403, 409, then If-Match (412)."""
    record = await repository.load(conn, spec, principal, record_id, for_update=True)
    workflow.check(workflow.TRANSITIONS[action], principal, record)
    check_if_match(spec, record, if_match)
    return record


async def transition(
    conn: AsyncConnection, principal: Principal, record: dict[str, Any], action: str, body: Any
) -> dict[str, Any]:
    """Make the move on a locked, checked record through the write path: the status and what the action
    writes, a history entry, the version bump, the audit row and the event, in the same transaction."""
    t = workflow.TRANSITIONS[action]
    now = utcnow()
    deadline = await conn.scalar(select(rounds.c.deadline).where(rounds.c.id == record["round_id"]))
    changes = t.effect(record, body, now, deadline)
    if t.target != BudgetStatus.DRAFT:
        # what starts to count in (or changes within) the year's totals
        for column in AMOUNTS:
            counted = record[column] if record["status"] != BudgetStatus.DRAFT else None
            value = changes.get(column, record[column])
            if value is not None and value != counted:
                await check_year_total(conn, record, column, value, loc=["body", column])
    entry = {
        "action": action,
        "from_status": record["status"],
        "to_status": t.target.value,
        "actor_kind": principal.kind,
        "actor_id": principal.id,
        "actor_role": str(principal.role),
        "actor_unit_id": principal.unit_id,
        "at": now,
        "note": t.note(body),
    }
    return await writes.change_state(
        conn, spec, principal, record, {**changes, "status": t.target.value}, action=action, append={"history": [entry]}
    )


# --- round summary ------------------------------------------------------------------------------


def _sums() -> list:
    def total(column):
        return cast(func.coalesce(func.sum(func.coalesce(column, 0)), 0), BigInteger)

    return [
        func.count().label("count"),
        total(submissions.c.requested_total_vnd).label("requested_total_vnd"),
        total(submissions.c.appraised_total_vnd).label("appraised_total_vnd"),
        total(submissions.c.approved_total_vnd).label("approved_total_vnd"),
    ]


async def round_summary(conn: AsyncConnection, round_id: int) -> dict[str, Any]:
    """Totals of the round's non-draft submissions by status and by unit, with on-time and late counts."""
    if await conn.scalar(select(rounds.c.id).where(rounds.c.id == round_id)) is None:
        raise NotFound(f"No budget-rounds record with id {round_id}.")
    where = and_(submissions.c.round_id == round_id, submissions.c.status != BudgetStatus.DRAFT.value)
    s = submissions.c
    by_status = await conn.execute(select(s.status, *_sums()).where(where).group_by(s.status).order_by(s.status))
    by_unit = await conn.execute(select(s.unit_id, *_sums()).where(where).group_by(s.unit_id).order_by(s.unit_id))
    submitted = s.submitted_at.is_not(None)
    counts = (
        await conn.execute(
            select(
                cast(func.coalesce(func.sum(case((and_(submitted, s.late.is_(False)), 1), else_=0)), 0), Integer),
                cast(func.coalesce(func.sum(case((and_(submitted, s.late.is_(True)), 1), else_=0)), 0), Integer),
            ).where(where)
        )
    ).one()
    return {
        "round_id": round_id,
        "by_status": dicts(by_status),
        "by_unit": dicts(by_unit),
        "on_time": counts[0],
        "late": counts[1],
    }
