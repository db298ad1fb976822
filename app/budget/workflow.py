"""The budget submission state machine of API.md section 5, as one table.

Each action names the statuses it leaves, the status it reaches, the permission its actor needs, whether
the actor must be the submission's own unit, its body, and what it writes. The endpoints, the checks
(403, 409) and every read's `allowed_actions` all come from this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.auth.permissions import Perm
from app.auth.principal import Principal
from app.budget.schemas import AppraiseBody, ApproveBody, BudgetStatus, ForwardBody, RejectBody, ReturnBody
from app.errors import Conflict, Forbidden, Invalid

# What an action writes besides the status: (record, body, now, round deadline) -> column values.
Effect = Callable[[dict[str, Any], Any, datetime, datetime], dict[str, Any]]

# PATCH and DELETE are allowed in these statuses only (and by the submission's own unit).
EDITABLE = frozenset({BudgetStatus.DRAFT, BudgetStatus.RETURNED})


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[BudgetStatus]
    target: BudgetStatus
    perm: Perm
    own_unit: bool  # the actor must belong to the submission's unit exactly
    body: type[BaseModel] | None
    effect: Effect
    summary: str

    def note(self, body: Any) -> str | None:
        return getattr(body, "note", None)


def _nothing(record: dict[str, Any], body: Any, now: datetime, deadline: datetime) -> dict[str, Any]:
    return {}


def _submit(record: dict[str, Any], body: Any, now: datetime, deadline: datetime) -> dict[str, Any]:
    return {"submitted_at": now, "late": now > deadline}


def _appraise(record: dict[str, Any], body: AppraiseBody, now: datetime, deadline: datetime) -> dict[str, Any]:
    return {"appraised_total_vnd": body.appraised_total_vnd}


def _approve(record: dict[str, Any], body: ApproveBody, now: datetime, deadline: datetime) -> dict[str, Any]:
    appraised = record["appraised_total_vnd"] or 0
    if body.approved_total_vnd > appraised:
        raise Invalid(
            f"approved_total_vnd {body.approved_total_vnd} is above the appraised total {appraised}.",
            loc=["body", "approved_total_vnd"],
        )
    return {
        "approved_total_vnd": body.approved_total_vnd,
        "decision_number": body.decision_number,
        "decision_date": body.decision_date,
    }


def _t(action, sources, target, perm, own_unit, body, effect, summary) -> Transition:
    return Transition(action, frozenset(sources), target, perm, own_unit, body, effect, summary)


S = BudgetStatus
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("submit", [S.DRAFT, S.RETURNED], S.SUBMITTED, Perm.BUDGET_OWN, True, None, _submit,
           "Submit to the lead office (records submitted_at and whether it is late)"),
        _t("withdraw", [S.DRAFT, S.SUBMITTED, S.RETURNED], S.WITHDRAWN, Perm.BUDGET_OWN, True, None, _nothing,
           "Withdraw the submission"),
        _t("return", [S.SUBMITTED], S.RETURNED, Perm.BUDGET_REVIEW, False, ReturnBody, _nothing,
           "Return to the unit for changes (note required)"),
        _t("forward", [S.SUBMITTED], S.FORWARDED, Perm.BUDGET_REVIEW, False, ForwardBody, _nothing,
           "Forward to the finance office for appraisal"),
        _t("appraise", [S.FORWARDED], S.APPRAISED, Perm.BUDGET_DECIDE, False, AppraiseBody, _appraise,
           "Record the appraised total"),
        _t("approve", [S.APPRAISED], S.APPROVED, Perm.BUDGET_DECIDE, False, ApproveBody, _approve,
           "Approve (at most the appraised total) with the decision's number and date"),
        _t("reject", [S.FORWARDED, S.APPRAISED], S.REJECTED, Perm.BUDGET_DECIDE, False, RejectBody, _nothing,
           "Reject (note required)"),
    )
}  # fmt: skip


def may_act(t: Transition, principal: Principal, record: dict[str, Any]) -> bool:
    """Whether this caller's role (and unit, for own-unit actions) may ever make this move on this record."""
    return principal.can(t.perm) and (not t.own_unit or record["unit_id"] == principal.unit_id)


def allowed_actions(principal: Principal, record: dict[str, Any]) -> list[str]:
    return [a for a, t in TRANSITIONS.items() if record["status"] in t.sources and may_act(t, principal, record)]


def check(t: Transition, principal: Principal, record: dict[str, Any]) -> None:
    """403 when the caller may never make this move here, then 409 when the status does not allow it."""
    if not principal.can(t.perm):
        raise Forbidden(f"The role '{principal.role}' may not {t.action} a budget submission.")
    if t.own_unit and record["unit_id"] != principal.unit_id:
        raise Forbidden(f"Only the submission's own unit ({record['unit_id']}) may {t.action} it.")
    if record["status"] not in t.sources:
        allowed = ", ".join(sorted(t.sources))
        raise Conflict(f"The submission is '{record['status']}'; {t.action} is allowed only from: {allowed}.")


def check_editable(principal: Principal, record: dict[str, Any]) -> None:
    """Editing (PATCH, DELETE) is for the own unit, in draft or returned (the write service has checked the
    permission)."""
    if record["unit_id"] != principal.unit_id:
        raise Forbidden(f"Only the submission's own unit ({record['unit_id']}) may edit it.")
    if record["status"] not in EDITABLE:
        raise Conflict(f"The submission is '{record['status']}'; it can be edited only in draft or returned.")
