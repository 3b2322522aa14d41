"""What the admin pages share: a submitted form's fields, a refused form's status, and the
domain a per-domain page shows."""

from __future__ import annotations

from starlette.requests import Request

from mailwright.api.context import Form, read_form, services
from mailwright.api.errors import status_of
from mailwright.domains import list_domains
from mailwright.errors import ServiceError

__all__ = ["Form", "domain_names", "failure", "pick_domain", "read_form", "text"]

MAX_DOMAINS = 1000


def text(form: Form, name: str) -> str:
    """A field's value, stripped; empty when absent."""
    return (form.get(name) or "").strip()


def failure(exc: ServiceError) -> tuple[str, int]:
    """What a page shows for a refused action: the message and the API's status for it."""
    return exc.message, status_of(exc)


async def domain_names(request: Request) -> list[str]:
    _, rows = await list_domains(services(request).store, limit=MAX_DOMAINS)
    return [row.name for row in rows]


def pick_domain(request: Request, names: list[str], given: str | None = None) -> str | None:
    """The domain asked for (path or ``?domain=``) when it exists, else the first one."""
    wanted = (given or request.query_params.get("domain") or "").strip().lower()
    if wanted in names:
        return wanted
    return names[0] if names else None
