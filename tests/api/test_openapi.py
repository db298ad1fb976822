"""The OpenAPI document as client generators read it: one meaningful name per schema, unique operation ids,
and every header the service reads or sends declared. (tests/openapi_headers.py also checks, on every answer
the suite receives, that the headers sent are the ones declared; tests/api/test_generated_client.py runs a
generated client.)"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from app.common.openapi import rename_schemas, schema_names
from app.config import get_settings
from app.main import create_app


@pytest.fixture(scope="module")
def spec():
    return create_app(get_settings()).openapi()


def operations(spec):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield path, method, op


def test_every_schema_has_one_meaningful_name_that_is_also_its_title(spec):
    schemas = spec["components"]["schemas"]
    titles = Counter(schema.get("title", key) for key, schema in schemas.items())
    assert [t for t, n in titles.items() if n > 1] == [], "two schemas share a title: generators merge or drop them"
    for key, schema in schemas.items():
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", key), f"schema name {key!r} is not a plain class name"
        assert schema.get("title", key) == key, f"schema {key} is titled {schema.get('title')!r}"
    enums = [key for key, schema in schemas.items() if "enum" in schema]
    assert len({schemas[k]["title"].lower() for k in enums}) == len(enums)
    for name in ("TrainingAudience", "ContestAudience", "AuditActor", "HistoryActor", "ForumPage"):
        assert name in schemas, f"{name} missing from {sorted(schemas)}"


def test_no_enum_is_declared_inline_twice(spec):
    """An enum written out inside a schema (not as a component) becomes one generated type per place."""
    inline = []

    def walk(node, where):
        if isinstance(node, dict):
            if "enum" in node and where.count("/") > 3:
                inline.append((tuple(node["enum"]), where))
            for k, v in node.items():
                walk(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}/{i}")

    walk(spec["components"]["schemas"], "#/components/schemas")
    repeated = [values for values, n in Counter(v for v, _ in inline).items() if n > 1 and len(values) > 1]
    assert repeated == [], f"inline enums repeated: {[w for v, w in inline if v in repeated]}"


def test_the_renaming_rule_handles_collisions_form_bodies_and_pages():
    document = {
        "components": {
            "schemas": {
                "app__trainings__schemas__Audience": {"title": "Audience", "enum": ["a"]},
                "app__contests__schemas__Audience": {"title": "Audience", "enum": ["b"]},
                "Body_issue_token": {"title": "Body_issue_token"},
                "Page_ForumRead_": {"title": "ForumPage"},
                "Holder": {"properties": {"a": {"$ref": "#/components/schemas/app__contests__schemas__Audience"}}},
            }
        }
    }
    assert schema_names(document) == {
        "app__trainings__schemas__Audience": "TrainingAudience",
        "app__contests__schemas__Audience": "ContestAudience",
        "Body_issue_token": "IssueTokenRequest",
        "Page_ForumRead_": "ForumPage",
    }
    renamed = rename_schemas(document)["components"]["schemas"]
    assert renamed["Holder"]["properties"]["a"] == {"$ref": "#/components/schemas/ContestAudience"}
    assert renamed["ContestAudience"]["title"] == "ContestAudience"


def test_allowed_actions_is_an_enum_of_the_transitions(spec):
    schemas = spec["components"]["schemas"]
    items = schemas["BudgetSubmissionRead"]["properties"]["allowed_actions"]["items"]
    assert items == {"$ref": "#/components/schemas/BudgetAction"}
    transitions = {p.rsplit("/", 1)[-1] for p in spec["paths"] if p.startswith("/api/v1/budget-submissions/{id}/")}
    assert set(schemas["BudgetAction"]["enum"]) == transitions


def test_every_operation_has_a_unique_snake_case_id(spec):
    ids = [op.get("operationId") for _, _, op in operations(spec)]
    assert all(i and re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids
    assert [i for i, n in Counter(ids).items() if n > 1] == []


def test_request_headers_are_declared_parameters(spec):
    for path, method, op in operations(spec):
        names = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        if method == "post" and op.get("security"):
            assert "Idempotency-Key" in names, f"POST {path} does not declare Idempotency-Key"
        if method in ("patch", "delete"):
            assert "If-Match" in names, f"{method.upper()} {path} does not declare If-Match"


def test_response_headers_are_declared(spec):
    headers = spec["components"]["headers"]
    assert set(headers) == {"ETag", "Link", "Location", "Retry-After", "Idempotent-Replayed"}
    for path, method, op in operations(spec):
        for status, response in op["responses"].items():
            declared = set(response.get("headers", {}))
            where = f"{method.upper()} {path} {status}"
            if status in ("429", "503"):
                assert "Retry-After" in declared, where
            if status == "201":
                assert {"Location", "ETag"} <= declared, where
            schema = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
            if status == "200" and schema.endswith("Page"):
                assert "Link" in declared, where
            if method == "get" and status == "200" and re.search(r"/\{(id|[a-z_]+_id)\}$", path):
                assert "ETag" in declared, f"{where}: a single record's answer carries its ETag"
            if method == "post" and op.get("security") and status < "500":
                assert "Idempotent-Replayed" in declared, where
            for ref in response.get("headers", {}).values():
                assert ref["$ref"].rsplit("/", 1)[-1] in headers


def test_the_import_body_documents_json_csv_and_xlsx(spec):
    content = spec["paths"]["/api/v1/imports/{resource}"]["post"]["requestBody"]["content"]
    assert set(content) == {
        "application/json",
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
    for media in ("text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"):
        assert content[media]["schema"] == {"type": "string", "format": "binary"}, media


def test_routes_are_matched_hot_first_but_documented_in_order_and_the_order_never_changes_the_answer(spec):
    """Requests try the routers in MATCH_ORDER (records and KPIs first); the document lists them as API_ROUTERS
    does. That is safe only while each router owns its first path segment: then no path can match routes of two
    routers, whichever is tried first."""
    from app.routers import API_ROUTERS, MATCH_ORDER, route_paths

    owners: dict[str, set[str]] = {}
    for router in API_ROUTERS:
        for path in route_paths(router):
            head = path.split("/")[1]
            assert not head.startswith("{"), f"{path}: a router's first segment is a parameter"
            owners.setdefault(head, set()).add(router.prefix)
    shared = {head: routers for head, routers in owners.items() if len(routers) > 1}
    assert not shared, f"routers share a first path segment, so the match order could change the route: {shared}"
    assert sorted(map(id, MATCH_ORDER)) == sorted(map(id, API_ROUTERS)), "MATCH_ORDER must hold every router once"
    documented = [p for p in spec["paths"] if p.startswith("/api/v1/")]
    heads = [p.split("/")[3] for p in documented]
    expected = [route_paths(r)[0].split("/")[1] for r in API_ROUTERS]
    assert list(dict.fromkeys(heads)) == expected, "the OpenAPI document no longer lists the routers as API_ROUTERS"


def test_bounds_are_json_schema_keywords(spec):
    """A bound written after a validator came out as pydantic's own "ge" and "le", which JSON Schema and the
    client generators do not know: 69 parameters and fields (every id, count and amount) showed no bounds."""
    found: list[str] = []

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in PYDANTIC_ONLY and not path.endswith("/properties"):
                    found.append(f"{path}/{key}")
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}/{i}")

    walk(spec, "")
    assert found == [], f"{len(found)} schemas carry keywords no client reads, e.g. {found[:3]}"


PYDANTIC_ONLY = {"ge", "le", "gt", "lt", "min_length", "max_length", "multiple_of", "max_digits", "decimal_places"}
