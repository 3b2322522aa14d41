"""``/v3/{domain}/messages``, ``messages.mime`` and stored messages (``storage.url``)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from mailwright.api.context import (
    json_response,
    path_param,
    principal,
    read_form,
    services,
)
from mailwright.delivery import cancel_queued
from mailwright.errors import InvalidInput, NotFound
from mailwright.inbound import parse_inbound, stored_json
from mailwright.messages import (
    SendRequest,
    accept,
    attachment,
    describe,
    load,
    parse_mime_send,
    parse_send,
    resend_request,
    storage_url,
)


async def _accept(request: Request, domain: str, req: SendRequest) -> Response:
    svc = services(request)
    who = await principal(request)  # authenticated already: remembered for the request
    options = req.spec.get("options") or {}
    # Without configured egress sources the options are kept but choose nothing, as before.
    is_choosing = "sending-ip" in options or "sending-ip-pool" in options
    if is_choosing and svc.egress is not None and svc.egress.sources:
        svc.egress.check_send_options(options, await svc.egress.assignments())
    accepted = await accept(
        svc.store,
        req,
        domain=domain,
        public_url=svc.public_url,
        retention=svc.retention,
        now=svc.clock(),
        webhooks=svc.webhooks,
        lists=await svc.lists.lists_among(req.recipients),
        environment=who.environment,
        monthly_limit=svc.monthly_limit,
    )
    svc.on_accepted()
    return json_response({"id": accepted.id, "message": accepted.message})


async def _sending_domain(request: Request) -> str:
    who = await principal(request)
    domain = path_param(request, "domain").lower()
    who.require_send(domain)
    return (await services(request).domains.get(domain)).name


async def send(request: Request) -> Response:
    """Send a message built from Mailgun's form fields (batch sends with recipient-variables)."""
    domain = await _sending_domain(request)
    form = await read_form(request)
    req = parse_send(form.fields, form.uploads, now=datetime.now(UTC))
    return await _accept(request, domain, req)


async def send_mime(request: Request) -> Response:
    """Send a message given as complete MIME (`message` file) to the `to` recipients."""
    domain = await _sending_domain(request)
    form = await read_form(request)
    req = parse_mime_send(form.fields, form.uploads, now=datetime.now(UTC))
    return await _accept(request, domain, req)


async def delete_envelopes(request: Request) -> Response:
    """Delete the domain's queued mail (Mailgun's envelopes endpoint): every delivery waiting
    in the queue, scheduled or between retries, fails now with a `failed` event (reason
    `generic`) that says so; one being attempted at this moment finishes. `deleted` is how
    many there were."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    domain = (await svc.domains.get(path_param(request, "domain").lower())).name
    deleted = await cancel_queued(svc.store, domain, now=svc.clock())
    return json_response({"message": "done", "deleted": deleted})


async def _stored(request: Request):  # type: ignore[no-untyped-def]
    who = await principal(request)
    domain = path_param(request, "domain").lower()
    who.require_domain(domain)
    stored = await load(services(request).store, path_param(request, "key"), domain=domain)
    if who.is_test and not stored.row.is_test_mode:
        raise NotFound("Message not found")  # a test credential sees test-mode mail only
    return domain, stored


async def get_stored(request: Request) -> Response:
    """A stored message as Mailgun's JSON (`Accept: message/rfc2822` adds `body-mime`)."""
    domain, stored = await _stored(request)
    recipients = stored.recipients
    raw = stored.render_for(recipients[0] if recipients else stored.facts.sender)
    base = storage_url(services(request).public_url, domain, stored.row.id)
    if stored.is_inbound:  # kept by a route's store(): Mailgun's parsed fields
        body = stored_json(
            parse_inbound(raw),
            recipient=", ".join(recipients),
            envelope_sender=stored.facts.sender,
            attachment_url=lambda i: f"{base}/attachments/{i}",
        )
    else:
        body = describe(
            raw,
            recipients=recipients,
            sender=stored.facts.sender,
            attachment_url=lambda i: f"{base}/attachments/{i}",
        )
    if "message/rfc2822" in request.headers.get("accept", ""):
        body["body-mime"] = raw.decode("utf-8", errors="replace")
    return json_response(body)


async def get_stored_attachment(request: Request) -> Response:
    """One attachment of a stored message, as the bytes that were sent."""
    _, stored = await _stored(request)
    recipients = stored.recipients
    raw = stored.render_for(recipients[0] if recipients else stored.facts.sender)
    index = path_param(request, "index")
    found = attachment(raw, int(index)) if index.isdigit() else None
    if found is None:
        raise NotFound("Attachment not found")
    return Response(found[1], media_type=found[0])


async def resend(request: Request) -> Response:
    """Send a stored message again to the recipients in `to`."""
    (await principal(request)).require_send(path_param(request, "domain"))
    domain, stored = await _stored(request)
    form = await read_form(request)
    to = form.get_all("to")
    if not to:
        raise InvalidInput("'to' parameter is missing", field="to")
    return await _accept(request, domain, resend_request(stored, to))
