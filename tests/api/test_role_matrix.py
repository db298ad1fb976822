"""Every /api/v1 operation, called as every role, anonymously, and (on a record) as a ward on another ward's
record, against the permission each route declares with `require(Perm.X)`. Built from the app's route table,
so that a new route is checked the day it is added; a route that declares no permission fails the suite.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi import routing
from fastapi.routing import APIRoute

from app.auth.permissions import Perm, Role, has
from app.budget.workflow import TRANSITIONS
from app.config import get_settings
from app.imports.registry import ImportResource
from app.main import create_app
from tests.samples import Samples

V1 = "/api/v1"
PUBLIC = {("POST", f"{V1}/auth/token")}  # no token needed
ANY_PRINCIPAL = {("GET", f"{V1}/auth/me")}  # any valid token, whatever its role
SUBMISSION = f"{V1}/budget-submissions/{{id}}"
# Budget actions whose actor check is finer than the permission (API.md section 5, app/budget/workflow.py):
# only the submission's own unit, whatever the role's permissions.
OWN_UNIT = {("POST", f"{SUBMISSION}/{a}") for a, t in TRANSITIONS.items() if t.own_unit} | {
    ("PATCH", SUBMISSION),
    ("DELETE", SUBMISSION),
}
# Transitions load the record before judging the actor: out of scope is a 404 even for a role without the right.
SCOPE_FIRST = {("POST", f"{SUBMISSION}/{a}") for a in TRANSITIONS}
CALLERS = ("anonymous", "lead_office", "finance_office", "unit", "viewer", "other_ward")


def declared_permissions(dependant) -> set[Perm]:
    found = set()
    for dep in dependant.dependencies:
        perm = getattr(dep.call, "required_permission", None)
        if perm is not None:
            found.add(perm)
        found |= declared_permissions(dep)
    return found


@dataclass(frozen=True)
class Op:
    method: str
    path: str  # the route template
    perm: Perm | None
    resource: str | None = None  # an import's {resource}

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    @property
    def takes_id(self) -> bool:
        """The path names a record (or a KPI) by a parameter: {id}, {entry_id}, {code}."""
        return any(p in self.path for p in ("{id}", "{code}"))

    def __str__(self) -> str:
        return f"{self.method} {self.path.replace('{resource}', self.resource or '{resource}')}"


def api_routes(app) -> list:
    """The app's operations with their full paths (FastAPI >= 0.13x keeps included routers nested)."""
    found = routing.iter_route_contexts(app.routes) if hasattr(routing, "iter_route_contexts") else app.routes
    return [r for r in found if isinstance(getattr(r, "original_route", r), APIRoute)]


ROUTES = [r for r in api_routes(create_app(get_settings())) if r.path.startswith(V1 + "/")]


def _ops() -> list[Op]:
    ops = []
    for route in ROUTES:
        perms = declared_permissions(route.dependant)
        for method in sorted(route.methods):
            if (method, route.path) in PUBLIC | ANY_PRINCIPAL:
                continue
            if "{resource}" in route.path:  # one import per collection; units need the finer permission
                for r in ImportResource:
                    perm = Perm.IMPORT_UNITS if r is ImportResource.UNITS else next(iter(perms), None)
                    ops.append(Op(method, route.path, perm, r.value))
            else:
                ops.append(Op(method, route.path, next(iter(perms), None)))
    return ops


OPS = _ops()
READ_PERMS = {op.path: op.perm for op in OPS if op.method == "GET"}


def visible_to_every_unit(op: Op) -> bool:
    """Whether the record the path names last (a contest, a unit...) is readable city-wide (a KPI: every caller
    reads it, computed over its own scope)."""
    record_path = op.path[: op.path.rindex("}") + 1]
    return READ_PERMS.get(record_path) in (Perm.CATALOGUE_READ, Perm.KPIS_READ)


def expected(op: Op, caller: str) -> str:
    """401, 403, 404; "refused" (403 or 422, never a success); or "allowed" (a read: 200; a write with an
    empty body: anything but 401, 403 and 5xx)."""
    if caller == "anonymous":
        return "401"
    role = Role.UNIT if caller == "other_ward" else Role(caller)
    others = caller == "other_ward"
    if others and op.key in SCOPE_FIRST:
        return "404"
    if not has(role, op.perm):
        return "403"
    if others and not visible_to_every_unit(op):
        return "404"
    if others and op.method != "GET":
        return "refused"
    if op.key in OWN_UNIT and caller != "unit":
        return "403"
    return "allowed"


def test_every_api_route_declares_a_permission_or_is_listed_as_open():
    undeclared = [
        f"{m} {r.path}"
        for r in ROUTES
        for m in r.methods
        if not declared_permissions(r.dependant) and (m, r.path) not in PUBLIC | ANY_PRINCIPAL
    ]
    assert undeclared == [], "deny by default: these routes declare no require(Perm.X)"
    several = [f"{m} {r.path}" for r in ROUTES for m in r.methods if len(declared_permissions(r.dependant)) > 1]
    assert several == []
    routes = {(m, r.path) for r in ROUTES for m in r.methods}
    assert routes >= PUBLIC | ANY_PRINCIPAL, "the open list names a route that no longer exists"


def test_the_open_routes_are_open(world, anonymous, viewer):
    r = anonymous.post(f"{V1}/auth/token", data={"grant_type": "password", "username": "nobody", "password": "x"})
    assert r.status_code == 401, r.text
    assert anonymous.get(f"{V1}/auth/me").status_code == 401
    assert viewer.get(f"{V1}/auth/me").json()["role"] == "viewer"


@pytest.fixture(scope="module")
def samples(world, ward) -> Samples:
    return Samples(world, owner=ward)


# another ward's record: only for the operations on a record
CASES = [(op, caller) for op in OPS for caller in CALLERS if caller != "other_ward" or op.takes_id]


@pytest.mark.parametrize("op, caller", CASES, ids=[f"{op}-{caller}" for op, caller in CASES])
def test_each_role_gets_what_the_permission_table_says(world, roles, anonymous, other_ward, samples, op, caller):
    api = {"anonymous": anonymous, "other_ward": other_ward, **roles}[caller]
    params = samples.params(op.path) if op.takes_id else {}
    if op.resource:
        params["resource"] = op.resource
    url = op.path.format(**params)
    body = {"json": {}} if op.method in ("POST", "PATCH", "PUT") else {}
    r = api.request(op.method, url, **body)

    want = expected(op, caller)
    seen = f"{caller} {op.method} {url} (needs {op.perm}): expected {want}, got {r.status_code} {r.text}"
    if want == "allowed" and op.method == "GET":
        assert r.status_code == 200, seen  # the record exists and the caller may see it
    elif want == "allowed":
        assert r.status_code not in (401, 403) and r.status_code < 500, seen
    elif want == "refused":
        assert r.status_code in (403, 422), seen
    else:
        assert r.status_code == int(want), seen

    role = Role.UNIT if caller == "other_ward" else caller
    if op.method in ("POST", "PATCH", "PUT") and (want == "401" or (want == "403" and not has(role, op.perm))):
        # a malformed body changes nothing: no token is a 401, a role without the right a 403
        r = api.request(op.method, url, content=b'{"unit_id": ', headers={"Content-Type": "application/json"})
        assert r.status_code == int(want), f"with a malformed body: {seen}"


# Object-level authorization, the part the matrix cannot see: a list must not reveal another ward's record either.
SCOPED_RECORDS = [
    op.path
    for op in OPS
    if op.method == "GET" and op.path.endswith("}") and has(Role.UNIT, op.perm) and not visible_to_every_unit(op)
]


@pytest.mark.parametrize("path", SCOPED_RECORDS)
def test_another_ward_neither_reads_nor_lists_nor_exports_a_wards_record(world, ward, other_ward, samples, path):
    url = path.format(**samples.params(path))
    record = ward.get(url).json()
    r = other_ward.get(url)
    assert r.status_code == 404, r.text
    listing, mine = url.rsplit("/", 1)[0], {"unit_id": record["unit_id"], "limit": 500}
    assert record["id"] in [x["id"] for x in ward.get(listing, params=mine).json()["items"]]
    r = other_ward.get(listing, params=mine)
    assert r.status_code == 200 and r.json()["items"] == [] and r.json()["total"] == 0, r.text
    r = other_ward.get(listing, params=mine, headers={"Accept": "text/csv"})
    assert r.status_code == 200 and len(r.text.strip().splitlines()) == 1, r.text
