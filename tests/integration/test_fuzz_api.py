"""schemathesis against our own ``/openapi.json``: every operation, with a bounded number of
generated requests each, sent in-process to the ASGI app on SQLite and PostgreSQL. No request
may get a 5xx (bad input is a 4xx naming the field), and every response must match the status
codes, content types and schemas the document declares.

schemathesis generates and validates; the requests go through httpx's ASGI transport on the
test's own event loop, where the store lives (schemathesis's ``case.call`` for ASGI apps runs
the app on another loop through Starlette's TestClient)."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mailwright.app import build_runtime, first_start
from mailwright.config import Settings
from mailwright.store import Store
from tests.conftest import API_KEY

EXAMPLES = 5  # per operation and mode: the whole test stays well under a minute
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
AUTH = "Basic " + base64.b64encode(f"api:{API_KEY}".encode()).decode()
# Deleting the sandbox domain would leave the later operations nothing to work on.
SPARED = {("DELETE", "/v4/domains/{name}"), ("DELETE", "/v3/domains/{name}")}


def generate(operation: Any, known: dict[str, str]) -> list[Any]:
    """``EXAMPLES`` cases with free path parameters; then, with ours filled in, as many that
    match the document and as many that break it (schemathesis's negative mode)."""
    cases: list[Any] = []
    strategies = [operation.as_strategy()]
    names = {p.name for p in operation.path_parameters}
    fixed = {name: value for name, value in known.items() if name in names}
    if (operation.method.upper(), operation.path) not in SPARED:
        strategies += [
            operation.as_strategy(mode, path_parameters=fixed)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            if fixed or mode is GenerationMode.NEGATIVE
        ]
    for strategy in strategies:

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,  # the same requests on every run, so CI is reproducible
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            deadline=None,
        )
        @given(strategy)
        def collect(case: Any) -> None:
            cases.append(case)

        with contextlib.suppress(Unsatisfiable):  # an operation with no input to break
            collect()
    return cases


async def send(client: httpx.AsyncClient, case: Any) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers={"Authorization": AUTH})
    kwargs.pop("cookies", None)
    prepared = requests.Request(**kwargs).prepare()  # the same bytes schemathesis would send
    return await client.request(
        prepared.method or "GET",
        prepared.url or "",
        headers=dict(prepared.headers),
        content=prepared.body,
    )


@pytest.fixture
async def api(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """The API alone: accepted messages stay queued (no worker resolves fuzzed domains)."""
    runtime = build_runtime(settings, frozenset({"api"}), store=store)
    await first_start(settings, store)
    await runtime.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=runtime.app, raise_app_exceptions=False),
            base_url="http://testserver",
        ) as client:
            yield client
    finally:
        await runtime.stop()


async def sandbox_of(api: httpx.AsyncClient) -> str:
    name: str = (await api.get("/v4/domains", headers={"Authorization": AUTH})).json()["items"][0][
        "name"
    ]
    return name


async def test_no_server_error_and_responses_match_the_schema(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    sandbox = await sandbox_of(api)
    schema = schemathesis.openapi.from_dict(document)
    known = {"domain": sandbox, "name": sandbox}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for case in generate(operation, known):
            response = await send(api, case)
            try:
                case.validate_response(response, checks=CHECKS)
            except FailureGroup as exc:
                titles = ", ".join(sorted({f.title for f in exc.exceptions}))
                failures.append(
                    f"{operation.label} -> {response.status_code} ({titles}): "
                    + case.as_curl_command(headers={"Authorization": "[key]"})
                )
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/v3/{domain}/events?subject=a%00b", {}, "subject"),
        ("GET", "/v3/{domain}/bounces/a%2500b@example.com", {}, "path"),
        ("POST", "/v3/{domain}/messages", {"data": {"subject": "a\x00b"}}, "subject"),
        ("POST", "/v3/{domain}/bounces", {"json": {"address": "a\x00@example.com"}}, "body"),
    ],
)
async def test_nul_is_a_400_naming_the_field(
    api: httpx.AsyncClient, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    """PostgreSQL text cannot hold U+0000: these were 500s there before the API refused them."""
    url = path.replace("{domain}", await sandbox_of(api))
    if path.endswith("/messages"):
        send = {"from": "a@example.com", "to": "b@example.com", "text": "x"}
        body = {**body, "data": {**send, **body.get("data", {})}}
    response = await api.request(method, url, headers={"Authorization": AUTH}, **body)
    assert response.status_code == 400, response.text
    assert response.json() == {"message": f"'{field}' must not contain a NUL character"}
