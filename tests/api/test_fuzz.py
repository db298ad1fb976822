"""Schemathesis fuzzes every operation of the app's own OpenAPI document, in process, as the lead office and
as a ward: no input may give a 500, and every answer must be one the document promises (status code,
content type, body schema).

The fuzz runs on a database of its own (of the configured backend): generated PATCHes and DELETEs hit
small ids, which on the shared session database would edit the units and users other tests rely on.
Bounded and derandomized, so that CI sees the same examples on every run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator

import pytest
import requests
import schemathesis
import urllib3
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from urllib3 import HTTPHeaderDict

from app.config import get_settings
from app.main import create_app
from tests.conftest import World, world_on_new_database
from tests.samples import Samples

pytestmark = pytest.mark.slow

BASE_URL = "http://testserver"
MAX_EXAMPLES = int(os.environ.get("DX_FUZZ_EXAMPLES", "20"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
IDENTITIES = ("lead_office", "unit")

SCHEMA = schemathesis.openapi.from_dict(create_app(get_settings()).openapi())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


class InProcess(requests.adapters.BaseAdapter):
    """Sends the request schemathesis prepared, byte for byte, through the test world's TestClient."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.client = world.client

    def send(self, request: requests.PreparedRequest, **_: object) -> requests.Response:
        answer = self.client.request(request.method, request.url, headers=dict(request.headers), content=request.body)
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.headers)
        pairs = HTTPHeaderDict()
        for name, value in answer.headers.multi_items():
            pairs.add(name, value)
        response.raw = urllib3.HTTPResponse(body=b"", headers=pairs, status=answer.status_code, version=11)
        response._content = answer.content
        response.url = request.url
        response.request = request
        response.reason = answer.reason_phrase
        response.encoding = answer.encoding
        return response

    def close(self) -> None:
        pass


class Fuzz:
    def __init__(self, world: World) -> None:
        self.world = world
        self.session = requests.Session()
        self.session.mount(BASE_URL, InProcess(world))
        self.callers = {"lead_office": world.user("lead_office", "P-VHTT"), "unit": world.user("unit", "PH-TANTHANH")}
        self.samples = Samples(world, owner=self.callers["unit"])
        # Generated PATCHes and DELETEs must not disable or demote the fuzzing principals themselves.
        self.protected_users = {str(api.principal["id"]) for api in self.callers.values()}
        self.seen: Counter[tuple[str, str, int]] = Counter()

    def report(self) -> str:
        """Requests sent per operation and identity, by status (DX_FUZZ_STATS=1 prints it)."""
        rows: dict[tuple[str, str], Counter[int]] = {}
        for (label, identity, status), n in sorted(self.seen.items()):
            rows.setdefault((label, identity), Counter())[status] += n
        lines = [f"{label:55} {identity:12} {dict(sorted(c.items()))}" for (label, identity), c in rows.items()]
        lines.append(f"{len({k[0] for k in rows})} operations, {sum(self.seen.values())} requests")
        return "\n".join(lines)


@pytest.fixture(scope="module")
def fuzz() -> Iterator[Fuzz]:
    with world_on_new_database("fuzz") as world:
        state = Fuzz(world)
        yield state
        if os.environ.get("DX_FUZZ_STATS"):
            print("\n" + state.report())


def _strategy(operation, known: dict[str, int] | None):
    """Valid and invalid requests, with generated path ids and, half the time, ids of records that exist."""
    fixed = [None, known] if known else [None]
    return st.one_of(
        [
            operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            for path_parameters in fixed
        ]
    )


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_every_answer_is_documented_and_none_is_a_server_error(fuzz: Fuzz, operation, identity: str) -> None:
    caller = fuzz.callers[identity]
    headers = {"Authorization": f"Bearer {caller.token}"}
    touches_users = operation.path.startswith("/api/v1/users/") and operation.method.upper() != "GET"
    has_ids = "{id}" in operation.path
    known = fuzz.samples.params(operation.path) if has_ids else None

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, known))
    def run(case) -> None:
        if touches_users and str((case.path_parameters or {}).get("id")) in fuzz.protected_users:
            reject()
        response = case.call_and_validate(session=fuzz.session, base_url=BASE_URL, headers=headers, checks=CHECKS)
        fuzz.seen[(operation.label, identity, response.status_code)] += 1

    run()
