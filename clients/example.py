"""A short session with the Python client that openapi-python-client generates from /openapi.json
(README, "Generated clients"); tests/api/test_generated_client.py generates the client and runs this
against a real server.

    python clients/example.py BASE_URL USERNAME PASSWORD   (the generated package `tamky_dx_client` importable)
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus

from tamky_dx_client import AuthenticatedClient, Client
from tamky_dx_client.api.auth import get_me, issue_token
from tamky_dx_client.api.budget_rounds import create_budget_round
from tamky_dx_client.api.budget_submissions import (
    create_budget_submission,
    forward_budget_submission,
    submit_budget_submission,
)
from tamky_dx_client.api.forums import create_forum
from tamky_dx_client.api.units import list_units
from tamky_dx_client.models import (
    BudgetAction,
    BudgetItemIn,
    BudgetRoundCreate,
    BudgetStatus,
    BudgetSubmissionCreate,
    BudgetSubmissionRead,
    ForumCreate,
    ForumKind,
    ForumRead,
    FundingSource,
    IssueTokenRequest,
    Problem,
    TokenOut,
    UnitPage,
)
from tamky_dx_client.types import UNSET


def main(base_url: str, username: str, password: str) -> None:
    # a token (password grant, form-encoded)
    token = issue_token.sync(
        client=Client(base_url=base_url),
        body=IssueTokenRequest(grant_type="password", username=username, password=password),
    )
    assert isinstance(token, TokenOut), token
    api = AuthenticatedClient(base_url=base_url, token=token.access_token)
    me = get_me.sync(client=api)

    # a page walk: follow next_cursor until the last page
    codes, cursor, pages = [], UNSET, 0
    while True:
        page = list_units.sync(client=api, limit=7, cursor=cursor)
        assert isinstance(page, UnitPage), page
        codes += [unit.code for unit in page.items]
        pages += 1
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert len(codes) == page.total == len(set(codes)), (len(codes), page.total)
    print(f"units: {page.total} in {pages} pages")

    # a create, and its 422 branch (a Problem with errors naming the fields)
    ward = next(u for u in list_units.sync(client=api, q="tan thanh", limit=50).items if u.code == "PH-TANTHANH")

    def forum(attendees: int) -> ForumCreate:
        return ForumCreate(
            unit_id=ward.id,
            kind=ForumKind.VILLAGE_FORUM,
            held_on=date(2024, 5, 5),
            title="Diễn đàn chuyển đổi số",
            attendees=attendees,
            questions_answered=0,
        )

    bad = create_forum.sync_detailed(client=api, body=forum(-1))
    assert bad.status_code == HTTPStatus.UNPROCESSABLE_ENTITY and isinstance(bad.parsed, Problem), bad
    assert [e.loc for e in bad.parsed.errors] == [["body", "attendees"]], bad.parsed.errors
    print(f"422: {bad.parsed.detail}")
    made = create_forum.sync_detailed(client=api, body=forum(45))
    assert made.status_code == HTTPStatus.CREATED and isinstance(made.parsed, ForumRead), made
    assert made.headers["Location"].endswith(f"/forums/{made.parsed.id}") and made.headers["ETag"]
    print(f"forum {made.parsed.id}: {made.parsed.title}")

    # a budget submission through two transitions, typed as submissions (not as problems)
    deadline = datetime.now(UTC) + timedelta(days=30)
    budget_round = create_budget_round.sync(
        client=api, body=BudgetRoundCreate(title="Kinh phí truyền thông CĐS", period="2099-H1", deadline=deadline)
    )
    draft = create_budget_submission.sync(
        client=api,
        body=BudgetSubmissionCreate(
            round_id=budget_round.id,
            unit_id=me.unit_id,
            title="Tờ rơi tuyên truyền",
            funding_source=FundingSource.CITY_BUDGET,
            items=[BudgetItemIn(description="Tờ rơi", quantity=100, unit_cost_vnd=2_000)],
        ),
    )
    assert isinstance(draft, BudgetSubmissionRead) and draft.status is BudgetStatus.DRAFT, draft
    assert BudgetAction.SUBMIT in draft.allowed_actions, draft.allowed_actions
    submitted = submit_budget_submission.sync(client=api, id=draft.id)
    assert isinstance(submitted, BudgetSubmissionRead) and submitted.status is BudgetStatus.SUBMITTED, submitted
    forwarded = forward_budget_submission.sync_detailed(client=api, id=draft.id)
    assert forwarded.status_code == HTTPStatus.OK and forwarded.parsed.status is BudgetStatus.FORWARDED, forwarded
    again = submit_budget_submission.sync_detailed(client=api, id=draft.id)
    assert again.status_code == HTTPStatus.CONFLICT and isinstance(again.parsed, Problem), again
    print(f"budget submission {draft.id}: {[h.action for h in forwarded.parsed.history]}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
