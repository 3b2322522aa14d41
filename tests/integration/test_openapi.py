"""/openapi.json describes exactly the routes served, each with a summary."""

from __future__ import annotations

import httpx
from starlette.routing import Route

from mailwright.app import Runtime


async def test_every_route_is_described(client: httpx.AsyncClient, runtime: Runtime) -> None:
    document = (await client.get("/openapi.json", auth=None)).json()
    assert document["openapi"].startswith("3.1")
    served = {
        (route.path, method.lower())
        for route in runtime.app.routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }
    described = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert described == served
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert op["summary"], f"{method.upper()} {path} has no summary"
            names = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert names == set(path.replace("}", "{").split("{")[1::2])


async def test_operation_ids_are_unique(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
