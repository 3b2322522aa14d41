"""Mailgun's domain templates (``/v3/{domain}/templates``) and their versions."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import Form, int_param, json_response, path_param, principal, read_form
from mailwright.api.context import services as services_of
from mailwright.domains import get_domain
from mailwright.messages import TemplatePage, VersionInput, templates


async def _domain(request: Request, *, write: bool = False) -> str:
    (await principal(request)).require_account(write=write)
    return (await get_domain(services_of(request).store, path_param(request, "domain"))).name


def _version_input(form: Form) -> VersionInput:
    return VersionInput(
        template=form.get("template"),
        tag=form.get("tag"),
        engine=form.get("engine"),
        comment=form.get("comment"),
        headers=form.get("headers"),
        active=form.get("active"),
    )


def _paging(base: str, page: TemplatePage, limit: int) -> dict[str, str]:
    def url(name: str, cursor: str | None = None) -> str:
        params = [("limit", str(limit)), ("page", name)]
        if cursor:
            params.append(("p", cursor))
        return f"{base}?{urlencode(params)}"

    return {
        "first": url("first"),
        "last": url("last"),
        "next": url("next", page.last),
        "previous": url("prev", page.first),
    }


def _page_args(request: Request) -> tuple[int, str | None, str | None]:
    limit = int_param(request, "limit", 10, low=1, high=templates.MAX_LIMIT)
    return limit, request.query_params.get("page") or None, request.query_params.get("p") or None


async def list_all(request: Request) -> Response:
    """List the domain's templates in name order: `limit` (max 100), `page` (first, last,
    next, prev) relative to the `p` name cursor."""
    domain = await _domain(request)
    svc = services_of(request)
    limit, page, cursor = _page_args(request)
    found = await templates.list_templates(svc.store, domain, limit=limit, page=page, cursor=cursor)
    base = f"{svc.public_url}/v3/{domain}/templates"
    return json_response({"items": found.items, "paging": _paging(base, found, limit)})


async def create(request: Request) -> Response:
    """Store a template: form `name`, `description`, and optionally its first (active) version:
    `template`, `tag` (default `initial`), `engine` (`handlebars`), `comment`, `headers`."""
    domain = await _domain(request, write=True)
    svc = services_of(request)
    form = await read_form(request)
    template = await templates.create_template(
        svc.store,
        domain,
        form.get("name"),
        form.get("description"),
        _version_input(form),
        now=svc.clock(),
    )
    return json_response({"message": "template has been stored", "template": template})


async def delete_every(request: Request) -> Response:
    """Delete every template of the domain, with their versions."""
    domain = await _domain(request, write=True)
    await templates.delete_templates(services_of(request).store, domain)
    return json_response({"message": "templates have been deleted"})


async def get_one(request: Request) -> Response:
    """One template; `active=yes` adds its active version with the content."""
    domain = await _domain(request)
    active = (request.query_params.get("active") or "").lower() in ("yes", "true")
    template = await templates.get_template(
        services_of(request).store, domain, path_param(request, "name"), active=active
    )
    return json_response({"template": template})


async def update(request: Request) -> Response:
    """Update a template's `description`."""
    domain = await _domain(request, write=True)
    form = await read_form(request)
    name = await templates.update_template(
        services_of(request).store, domain, path_param(request, "name"), form.get("description")
    )
    return json_response({"message": "template has been updated", "template": {"name": name}})


async def delete(request: Request) -> Response:
    """Delete a template and all its versions."""
    domain = await _domain(request, write=True)
    name = await templates.delete_template(
        services_of(request).store, domain, path_param(request, "name")
    )
    return json_response({"message": "template has been deleted", "template": {"name": name}})


async def create_version(request: Request) -> Response:
    """Store a new version: form `template`, `tag`, `engine`, `comment`, `headers`, and
    `active=yes` to make it the active one."""
    domain = await _domain(request, write=True)
    svc = services_of(request)
    form = await read_form(request)
    template = await templates.create_version(
        svc.store, domain, path_param(request, "name"), _version_input(form), now=svc.clock()
    )
    return json_response(
        {"message": "new version of the template has been stored", "template": template}
    )


async def list_versions(request: Request) -> Response:
    """List a template's versions in tag order (no content): `limit` (max 100), `page`
    (first, last, next, prev) relative to the `p` tag cursor."""
    domain = await _domain(request)
    svc = services_of(request)
    name = path_param(request, "name")
    limit, page, cursor = _page_args(request)
    template, found = await templates.list_versions(
        svc.store, domain, name, limit=limit, page=page, cursor=cursor
    )
    base = f"{svc.public_url}/v3/{domain}/templates/{template['name']}/versions"
    return json_response(
        {"template": {**template, "versions": found.items}, "paging": _paging(base, found, limit)}
    )


async def get_version(request: Request) -> Response:
    """One version of a template, with its content."""
    domain = await _domain(request)
    template = await templates.get_version(
        services_of(request).store, domain, path_param(request, "name"), path_param(request, "tag")
    )
    return json_response({"template": template})


async def update_version(request: Request) -> Response:
    """Update a version: form `template`, `comment`, `headers`, `active=yes`."""
    domain = await _domain(request, write=True)
    form = await read_form(request)
    name, tag = await templates.update_version(
        services_of(request).store,
        domain,
        path_param(request, "name"),
        path_param(request, "tag"),
        _version_input(form),
    )
    return json_response(
        {"message": "version has been updated", "template": {"name": name, "version": {"tag": tag}}}
    )


async def delete_version(request: Request) -> Response:
    """Delete a version of a template."""
    domain = await _domain(request, write=True)
    name, tag = await templates.delete_version(
        services_of(request).store, domain, path_param(request, "name"), path_param(request, "tag")
    )
    return json_response(
        {"message": "version has been deleted", "template": {"name": name, "version": {"tag": tag}}}
    )


async def copy_version(request: Request) -> Response:
    """Copy a version to a new, inactive tag; optional `comment` (query or form)."""
    domain = await _domain(request, write=True)
    svc = services_of(request)
    form = await read_form(request)
    name = path_param(request, "name")
    version = await templates.copy_version(
        svc.store,
        domain,
        name,
        path_param(request, "tag"),
        path_param(request, "new_tag"),
        # Mailgun documents `comment` as a query parameter here; the SDK sends it so.
        form.get("comment", request.query_params.get("comment")),
        now=svc.clock(),
    )
    return json_response(
        {
            "message": "version has been copied",
            "version": version,
            "template": {"name": name.lower(), "version": version},
        }
    )


BASE = "/v3/{domain}/templates"
ONE = BASE + "/{name}"
VERSIONS = ONE + "/versions"

ROUTES = [
    Route(BASE, list_all, methods=["GET"]),
    Route(BASE, create, methods=["POST"]),
    Route(BASE, delete_every, methods=["DELETE"]),
    Route(ONE, get_one, methods=["GET"]),
    Route(ONE, update, methods=["PUT"]),
    Route(ONE, delete, methods=["DELETE"]),
    Route(VERSIONS, list_versions, methods=["GET"]),
    Route(VERSIONS, create_version, methods=["POST"]),
    Route(VERSIONS + "/{tag}", get_version, methods=["GET"]),
    Route(VERSIONS + "/{tag}", update_version, methods=["PUT"]),
    Route(VERSIONS + "/{tag}", delete_version, methods=["DELETE"]),
    Route(VERSIONS + "/{tag}/copy/{new_tag}", copy_version, methods=["PUT"]),
]
