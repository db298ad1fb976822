"""What every endpoint shares: pages, CSV, problem details, headers, idempotency, health, the OpenAPI document."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from app.config import get_settings
from app.main import create_app

U = "/api/v1/units"


def test_pages_follow_the_cursor_in_id_order_with_total_and_link(world, viewer):
    total = viewer.get(U, params={"limit": 1}).json()["total"]
    seen, cursor, pages = [], None, 0
    while True:
        r = viewer.get(U, params={"limit": 7, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == total
        seen += [u["id"] for u in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor:
            assert r.headers["link"].endswith('; rel="next"') and f"cursor={cursor}" in r.headers["link"]
        else:
            assert "link" not in r.headers
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == total
    assert pages == -(-total // 7)


F = "/api/v1/forums"


def _forum(api, world, day: str, n: int) -> int:
    body = {
        "unit_id": world.unit_id("PH-ANMY"),
        "kind": "village_forum",
        "held_on": day,
        "title": f"Diễn đàn phân trang {n}",
        "attendees": 10,
        "questions_answered": 1,
    }
    r = api.post(F, json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_a_walk_counts_its_total_once_and_a_first_page_is_always_exact(world, lead, viewer):
    """The total is counted on a walk's first page and carried by its cursor: a row added mid-walk does not
    change the walk's total, a new first page counts it, and a cursor replayed with other filters or by
    another caller is counted for them."""
    window = {"from": "2019-03-01", "to": "2019-03-31"}
    made = [_forum(lead, world, f"2019-03-{d:02d}", d) for d in range(1, 6)]
    first = lead.get(F, params={**window, "limit": 2}).json()
    assert first["total"] == 5 and [i["id"] for i in first["items"]] == made[:2], first
    made.append(_forum(lead, world, "2019-03-20", 20))
    second = lead.get(F, params={**window, "limit": 2, "cursor": first["next_cursor"]}).json()
    assert second["total"] == 5, "the walk's total is the one its first page counted"
    assert [i["id"] for i in second["items"]] == made[2:4]
    again = lead.get(F, params={**window, "limit": 2}).json()
    assert again["total"] == 6, "a first page counts what is there now"
    other = {"from": "2019-03-03", "to": "2019-03-31"}
    replayed = lead.get(F, params={**other, "limit": 2, "cursor": first["next_cursor"]}).json()
    assert replayed["total"] == 4 and [i["id"] for i in replayed["items"]] == made[2:4], replayed
    by_viewer = viewer.get(F, params={**window, "limit": 2, "cursor": first["next_cursor"]})
    assert by_viewer.status_code == 200 and by_viewer.json()["total"] == 6, by_viewer.text


def test_a_cursor_whose_carried_total_was_altered_is_422(world, lead):
    import base64

    page = lead.get(U, params={"limit": 1}).json()
    raw, sig = page["next_cursor"].split(".")
    after, total, walk = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode().split(":")
    forged = base64.urlsafe_b64encode(f"{after}:{int(total) + 1}:{walk}".encode()).decode().rstrip("=")
    r = lead.get(U, params={"limit": 1, "cursor": f"{forged}.{sig}"})
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"limit": 10**20},
        {"limit": "x"},
        {"cursor": "garbage"},
        {"cursor": "MTA.AAAAAAAAAAAAAAAA"},
        {"cursor": "a" * 500},
    ],
)
def test_bad_limit_or_cursor_is_422(world, viewer, params):
    r = viewer.get(U, params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert set(body) >= {"type", "title", "status", "detail"} and body["status"] == 422


def test_default_limit_is_50(world, lead):
    for _i in range(3):
        world.new_unit("village", "PH-ANXUAN")
    items = lead.get(U).json()["items"]
    assert len(items) == min(50, lead.get(U).json()["total"])


def test_accept_text_csv_streams_every_matching_row_with_a_header(world, viewer):
    r = viewer.get(U, params={"kind": "ward", "limit": 1}, headers={"Accept": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    total = viewer.get(U, params={"kind": "ward"}).json()["total"]
    assert len(rows) == total  # every row, not one page
    assert "Phường Tân Thạnh" in {row["name"] for row in rows}
    assert list(rows[0])[:4] == ["id", "created_at", "updated_at", "version"]


def test_problem_details_for_404_405_and_unknown_records(world, viewer):
    for url, method, status in [
        ("/api/v1/nothing-here", "GET", 404),
        (f"{U}/999999999", "GET", 404),
        (f"{U}/1", "PUT", 405),
        ("/api/v1/auth/me", "DELETE", 405),
    ]:
        r = viewer.request(method, url)
        assert r.status_code == status, f"{method} {url}: {r.text}"
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == status


@pytest.mark.parametrize(
    "content,ctype",
    [
        (b"{not json", "application/json"),
        (b'{"code": "\\u0000"}', "application/json"),
        (b"", "application/json"),
        (b"[1,2,3]", "application/json"),
        (b'{"code": 1e999999}', "application/json"),
        (b"\xff\xfe\x00", "application/json"),
    ],
)
def test_malformed_bodies_are_422_not_500(world, lead, content, ctype):
    r = lead.post(U, content=content, headers={"Content-Type": ctype})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"


def test_huge_ids_and_nul_bytes_in_the_url_are_422(world, viewer):
    assert viewer.get(f"{U}/{10**30}").status_code == 422
    assert viewer.get(f"{U}/-1").status_code == 422
    assert viewer.get(U, params={"q": "a\x00b"}).status_code == 422
    assert viewer.get(U, params={"parent_id": 2**64}).status_code == 422


def test_a_body_over_one_mebibyte_is_413(world, lead):
    r = lead.post(
        U, content=b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413, r.text[:200]
    assert r.headers["content-type"] == "application/problem+json"


def test_a_chunked_body_over_the_limit_is_413(world, lead):
    def chunks():
        for _ in range(20):
            yield b"x" * 65536

    r = lead.post(U, content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:200]


def test_an_unexpected_exception_is_a_500_problem_without_a_trace(world, viewer):
    app = create_app(get_settings())
    boom = APIRouter()

    @boom.get("/api/v1/_test_boom")
    async def _boom():
        raise RuntimeError("secret internals: password=hunter2")

    app.include_router(boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/api/v1/_test_boom", headers={"Authorization": f"Bearer {viewer.token}"})
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert "hunter2" not in r.text and "Traceback" not in r.text
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-request-id"]


def test_request_id_is_echoed_or_generated_and_nosniff_everywhere(world, viewer, anonymous):
    r = viewer.get(U, headers={"X-Request-ID": "ward-sys-42"})
    assert r.headers["x-request-id"] == "ward-sys-42"
    for resp in (anonymous.get(U), anonymous.get("/healthz"), viewer.get("/nope")):
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert len(resp.headers["x-request-id"]) >= 16


def test_no_cors_origin_is_allowed_by_default(world, anonymous):
    r = anonymous.request(
        "OPTIONS", U, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in r.headers
    r = anonymous.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_health_readiness_and_metrics_need_no_token(world, anonymous):
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    assert anonymous.get("/readyz").json() == {"status": "ready"}
    m = anonymous.get("/metrics")
    assert m.status_code == 200 and "dx_http_requests_total" in m.text
    assert 'dx_http_request_seconds_count{method="GET",route="/healthz"}' in m.text


def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(world, lead):
    body = {"code": "X-IDEM-1", "name": "Thôn Idempotent", "kind": "village", "parent_id": world.unit_id("PH-ANMY")}
    key = {"Idempotency-Key": "import-2024-05-chunk-1"}
    first = lead.post(U, json=body, headers=key)
    assert first.status_code == 201, first.text
    again = lead.post(U, json=body, headers=key)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert lead.get(U, params={"q": "thon idempotent"}).json()["total"] == 1
    other = lead.post(U, json={**body, "code": "X-IDEM-2"}, headers=key)
    assert other.status_code == 422, other.text
    # keys are per caller: another principal's same key is a new request
    other_lead = world.user("lead_office", "P-VHTT")
    r = other_lead.post(U, json={**body, "code": "X-IDEM-3"}, headers=key)
    assert r.status_code == 201, r.text


def test_a_failed_request_does_not_burn_its_idempotency_key(world, lead):
    key = {"Idempotency-Key": "retry-after-fix"}
    bad = lead.post(U, json={"code": "X-IDEM-4", "name": "Thôn", "kind": "village"}, headers=key)
    assert bad.status_code == 422
    replay = lead.post(U, json={"code": "X-IDEM-4", "name": "Thôn", "kind": "village"}, headers=key)
    assert replay.status_code == 422 and replay.headers.get("idempotent-replayed") == "true"


def test_openapi_documents_every_operation_with_a_unique_id_and_its_problems(world, anonymous):
    spec = anonymous.get("/openapi.json").json()
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if path.startswith("/api/v1/") and path != "/api/v1/auth/token":
                assert "401" in op["responses"], f"{method} {path} does not document 401"
            if op.get("parameters") or op.get("requestBody"):
                assert "422" in op["responses"], f"{method} {path} does not document 422"
    assert spec["components"]["schemas"]["Problem"]["properties"]["status"]


def test_openapi_documents_problems_as_problem_json_alone_as_they_are_served(world, anonymous, lead):
    spec = anonymous.get("/openapi.json").json()
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                content = response.get("content", {})
                if status.startswith(("4", "5")):
                    assert content.get("application/problem+json", {}).get("schema") == problem, (
                        f"{method} {path} {status}"
                    )
                    assert content.get("application/json", {}).get("schema") != problem, f"{method} {path} {status}"
    r = lead.get("/api/v1/units/999999999")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", r.text


def test_audit_events_are_for_the_lead_office_only(world, roles, anonymous):
    for role, api in roles.items():
        r = api.get("/api/v1/audit-events")
        assert r.status_code == (200 if role == "lead_office" else 403), f"{role}: {r.text}"
    assert anonymous.get("/api/v1/audit-events").status_code == 401


def test_audit_events_filter_by_actor_and_time(world, lead):
    me = lead.get("/api/v1/auth/me").json()
    world.new_unit("village", "XA-TAMNGOC")
    r = lead.get("/api/v1/audit-events", params={"actor_kind": "user", "actor_id": me["id"], "limit": 500})
    assert r.status_code == 200, r.text
    assert all(e["actor"]["id"] == me["id"] for e in r.json()["items"])
    assert lead.get("/api/v1/audit-events", params={"from": "2999-01-01"}).json()["total"] == 0
    assert json.dumps(r.json())  # before/after are plain JSON
