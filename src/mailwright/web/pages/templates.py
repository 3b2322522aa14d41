"""Stored templates per domain: the list, creating one, a template's versions, editing a
version, and a preview rendered by the renderer sends use, shown in a sandboxed frame."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailwright.api.context import path_param, services
from mailwright.domains import get_domain
from mailwright.errors import ServiceError
from mailwright.messages import VersionInput, templates
from mailwright.web.forms import domain_names, failure, pick_domain, read_form, text
from mailwright.web.session import page
from mailwright.web.templating import render

SAMPLE_VARIABLES = '{"name": "Ada"}'


async def _list(
    request: Request, domain: str | None = None, *, error: str = "", status: int = 200
) -> Response:
    names = await domain_names(request)
    chosen = pick_domain(request, names, domain)
    found, more = [], None
    if chosen:
        listed = await templates.list_templates(
            services(request).store,
            chosen,
            limit=templates.MAX_LIMIT,
            page="next" if request.query_params.get("after") else None,
            cursor=request.query_params.get("after") or None,
        )
        found = listed.items
        more = listed.last if len(found) == templates.MAX_LIMIT else None
    context = {
        "title": "Templates",
        "domains": names,
        "domain": chosen,
        "templates": found,
        "more": more,
        "error": error,
    }
    return render(request, "templates.html", context, status=status)


@page
async def template_list(request: Request) -> Response:
    return await _list(request)


@page
async def domain_list(request: Request) -> Response:
    return await _list(request, path_param(request, "domain"))


@page
async def create(request: Request) -> Response:
    svc = services(request)
    given = path_param(request, "domain")
    form = await read_form(request)
    version = VersionInput(template=form.get("template") or None, tag=text(form, "tag") or None)
    try:
        domain = (await get_domain(svc.store, given)).name
        made = await templates.create_template(
            svc.store,
            domain,
            form.get("name"),
            form.get("description"),
            version,
            now=svc.clock(),
        )
    except ServiceError as exc:
        message, status = failure(exc)
        return await _list(request, given, error=message, status=status)
    return RedirectResponse(_url(domain, made["name"]), status_code=303)


def _url(domain: str, name: str, tag: str | None = None) -> str:
    base = f"/templates/{quote(domain)}/{quote(name)}"
    return f"{base}?tag={quote(tag)}" if tag else base


async def _detail(
    request: Request,
    *,
    tag: str | None = None,
    draft: dict[str, str] | None = None,
    preview: str | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    """The template, its versions and one version (``tag``, else the active one) in the
    editor; ``draft`` keeps what was typed when a preview or save is shown again."""
    store = services(request).store
    domain = (await get_domain(store, path_param(request, "domain"))).name
    name = path_param(request, "name")
    template, versions = await templates.list_versions(
        store, domain, name, limit=templates.MAX_LIMIT, page=None, cursor=None
    )
    tag = tag or request.query_params.get("tag") or _active(versions.items)
    current = (await templates.get_version(store, domain, name, tag))["version"] if tag else None
    context: dict[str, Any] = {
        "title": f"Template {template['name']}",
        "domain": domain,
        "template": template,
        "versions": versions.items,
        "current": current,
        "body": (draft or {}).get("template", current["template"] if current else ""),
        "variables": (draft or {}).get("variables", SAMPLE_VARIABLES),
        "preview": preview,
        "error": error,
    }
    return render(request, "template.html", context, status=status)


def _active(versions: list[dict[str, Any]]) -> str | None:
    tags = [v["tag"] for v in versions if v["active"]] or [v["tag"] for v in versions]
    return str(tags[0]) if tags else None


async def _guarded(request: Request, **kwargs: Any) -> Response:
    try:
        return await _detail(request, **kwargs)
    except ServiceError as exc:
        message, status = failure(exc)
        return render(request, "error.html", {"title": "Template", "message": message}, status)


@page
async def template(request: Request) -> Response:
    return await _guarded(request)


@page
async def preview(request: Request) -> Response:
    """Render the typed text with the typed JSON variables; nothing is stored."""
    form = await read_form(request)
    draft = {"template": form.get("template") or "", "variables": form.get("variables") or ""}
    tag = text(form, "tag") or None
    try:
        rendered = templates.preview(draft["template"], draft["variables"])
    except ServiceError as exc:
        message, status = failure(exc)
        return await _guarded(request, tag=tag, draft=draft, error=message, status=status)
    return await _guarded(request, tag=tag, draft=draft, preview=rendered)


@page
async def save_version(request: Request) -> Response:
    """Change a version's text and comment; ``active`` makes it the active version."""
    svc = services(request)
    form = await read_form(request)
    tag = path_param(request, "tag")
    draft = {"template": form.get("template") or "", "variables": form.get("variables") or ""}
    given = VersionInput(
        template=draft["template"],
        comment=form.get("comment"),
        active="yes" if form.get("active") else None,
    )
    try:
        domain = (await get_domain(svc.store, path_param(request, "domain"))).name
        name, tag = await templates.update_version(
            svc.store, domain, path_param(request, "name"), tag, given
        )
    except ServiceError as exc:
        message, status = failure(exc)
        return await _guarded(request, tag=tag, draft=draft, error=message, status=status)
    return RedirectResponse(_url(domain, name, tag), status_code=303)


@page
async def add_version(request: Request) -> Response:
    svc = services(request)
    form = await read_form(request)
    draft = {"template": form.get("template") or "", "variables": form.get("variables") or ""}
    given = VersionInput(
        template=draft["template"],
        tag=text(form, "tag"),
        comment=form.get("comment"),
        active="yes" if form.get("active") else None,
    )
    try:
        domain = (await get_domain(svc.store, path_param(request, "domain"))).name
        made = await templates.create_version(
            svc.store, domain, path_param(request, "name"), given, now=svc.clock()
        )
    except ServiceError as exc:
        message, status = failure(exc)
        return await _guarded(request, draft=draft, error=message, status=status)
    return RedirectResponse(_url(domain, made["name"], made["version"]["tag"]), status_code=303)


@page
async def delete(request: Request) -> Response:
    """Delete the template with all its versions."""
    svc = services(request)
    try:
        domain = (await get_domain(svc.store, path_param(request, "domain"))).name
        await templates.delete_template(svc.store, domain, path_param(request, "name"))
    except ServiceError as exc:
        message, status = failure(exc)
        return render(request, "error.html", {"title": "Template", "message": message}, status)
    return RedirectResponse(f"/templates?domain={quote(domain)}", status_code=303)


@page
async def delete_version(request: Request) -> Response:
    svc = services(request)
    try:
        domain = (await get_domain(svc.store, path_param(request, "domain"))).name
        name, _ = await templates.delete_version(
            svc.store, domain, path_param(request, "name"), path_param(request, "tag")
        )
    except ServiceError as exc:
        message, status = failure(exc)
        return render(request, "error.html", {"title": "Template", "message": message}, status)
    return RedirectResponse(_url(domain, name), status_code=303)


ONE = "/templates/{domain}/{name}"

ROUTES = [
    Route("/templates", template_list, methods=["GET"]),
    Route("/templates/{domain}", domain_list, methods=["GET"]),
    Route("/templates/{domain}", create, methods=["POST"]),
    Route(ONE, template, methods=["GET"]),
    Route(ONE + "/delete", delete, methods=["POST"]),
    Route(ONE + "/preview", preview, methods=["POST"]),
    Route(ONE + "/versions", add_version, methods=["POST"]),
    Route(ONE + "/versions/{tag}", save_version, methods=["POST"]),
    Route(ONE + "/versions/{tag}/delete", delete_version, methods=["POST"]),
]
