"""Refusing U+0000 in request text: PostgreSQL's text type cannot hold it (the insert fails with
"invalid byte sequence"), SQLite would store it, and no Mailgun field needs it. So a NUL in a
path, query parameter, form field or JSON string is a 400 naming the field, on both databases,
before any handler runs a query."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mailwright.errors import InvalidInput

NUL = "\x00"


def nul_message(name: str) -> str:
    return f"'{name}' must not contain a NUL character"


def refuse_nul(name: str, value: str) -> None:
    if NUL in value or NUL in name:
        raise InvalidInput(nul_message(name.replace(NUL, "")), field=name.replace(NUL, ""))


def refuse_nul_json(value: Any, field: str = "body") -> None:
    """Every key and string inside a parsed JSON body."""
    if isinstance(value, str):
        refuse_nul(field, value)
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(field, str(key))
            refuse_nul_json(item, field)
    elif isinstance(value, list):
        for item in value:
            refuse_nul_json(item, field)


def _nul_in_url(scope: Scope) -> str | None:
    """The name of the first URL part holding a NUL: ``path`` or a query parameter's name."""
    if NUL in unquote(scope.get("path", "")):
        return "path"
    query: str = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        if NUL in name or NUL in value:
            return name.replace(NUL, "")
    return None


class RefuseNulInUrl:
    """ASGI middleware: query parameters are read in many handlers, so the URL is checked once,
    here, before routing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = _nul_in_url(scope) if scope["type"] == "http" else None
        if name is None:
            await self.app(scope, receive, send)
            return
        response = JSONResponse({"message": nul_message(name)}, status_code=400)
        await response(scope, receive, send)
