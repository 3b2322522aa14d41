"""Mailgun's IP endpoints: ``/v3/ips`` (the configured egress sources), a domain's IPs
(``/v3/domains/{domain}/ips``), IP pools (``/v3/ip_pools``) and warm-ups (``/v3/ip_warmups``).

Addresses are configuration (``MAILWRIGHT_EGRESS_SOURCES``); pools, assignments and warm-ups
are stored. Every address here is dedicated: it is this server's own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import json_response, path_param, principal, read_form, services
from mailwright.delivery import WarmupSchedule, allowance, daily_limit, is_warm
from mailwright.delivery.warmup import UNLIMITED, hourly_limit, warmup_day, warmup_hour
from mailwright.egress import EgressDirectory, Pool, Warmup
from mailwright.errors import NotFound


def _directory(request: Request) -> EgressDirectory:
    svc = services(request)
    if svc.egress is None:
        svc.egress = EgressDirectory(svc.store, (), svc.clock)
    return svc.egress


def _schedule(request: Request) -> WarmupSchedule:
    return services(request).warmup_schedule


async def list_ips(request: Request) -> Response:
    """The egress source addresses outbound mail may leave from."""
    (await principal(request)).require_account()
    items = [s.ip for s in _directory(request).sources]
    return json_response({"items": items, "total_count": len(items)})


async def get_ip(request: Request) -> Response:
    """One egress address: `rdns` is its HELO name; `warmup` its warm-up, when warming."""
    (await principal(request)).require_account()
    directory = _directory(request)
    source = directory.source(path_param(request, "ip"))
    ip = source.ip
    body: dict[str, Any] = {"ip": ip, "dedicated": True, "rdns": source.helo}
    warm = (await directory.warmups()).get(ip)
    if warm is not None:
        body["warmup"] = warmup_json(warm, _schedule(request), services(request).clock())
    return json_response(body)


async def list_domain_ips(request: Request) -> Response:
    """The addresses a domain sends from: assigned directly, and through its pool."""
    (await principal(request)).require_account()
    svc = services(request)
    domain = (await svc.domains.get(path_param(request, "domain"))).name
    direct, pool_id = await _directory(request).domain_ips(domain)
    items = list(direct)
    body: dict[str, Any] = {}
    if pool_id is not None:
        pool = await _directory(request).get_pool(pool_id)
        items.extend(ip for ip in pool.ips if ip not in items)
        body["pool_id"] = pool_id
    return json_response({"items": items, "total_count": len(items), **body})


async def assign_domain_ip(request: Request) -> Response:
    """Assign an address (`ip`) or an IP pool (`pool_id`) to the domain."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    domain = (await svc.domains.get(path_param(request, "domain"))).name
    form = await read_form(request)
    await _directory(request).assign(domain, ip=form.get("ip"), pool_id=form.get("pool_id"))
    return json_response({"message": "success"})


async def unassign_domain_ip(request: Request) -> Response:
    """Remove an address from the domain; `ip_pool` as the address unlinks its pool."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    domain = (await svc.domains.get(path_param(request, "domain"))).name
    await _directory(request).unassign(domain, path_param(request, "ip"))
    return json_response({"message": "success"})


def _pool_json(pool: Pool, linked: set[str]) -> dict[str, Any]:
    return {
        "pool_id": pool.pool_id,
        "name": pool.name,
        "description": pool.description,
        "ips": list(pool.ips),
        "is_linked": pool.pool_id in linked,  # some domain sends from it
    }


async def _linked(directory: EgressDirectory) -> set[str]:
    return set((await directory.assignments()).domain_pools.values())


async def list_pools(request: Request) -> Response:
    """Every IP pool with its addresses."""
    (await principal(request)).require_account()
    directory = _directory(request)
    pools, linked = await directory.list_pools(), await _linked(directory)
    items = [_pool_json(p, linked) for p in pools]
    return json_response({"ip_pools": items, "message": "success"})


async def get_pool(request: Request) -> Response:
    """One IP pool."""
    (await principal(request)).require_account()
    directory = _directory(request)
    pool = await directory.get_pool(path_param(request, "pool_id"))
    return json_response(_pool_json(pool, await _linked(directory)))


async def create_pool(request: Request) -> Response:
    """Create a pool: `name`, `description`, `ip` (repeatable) of configured sources."""
    (await principal(request)).require_account(write=True)
    form = await read_form(request)
    pool_id = await _directory(request).create_pool(
        form.get("name") or "",
        form.get("description") or "",
        [*form.get_all("ip"), *form.get_all("ips")],
    )
    return json_response({"message": "success", "pool_id": pool_id})


async def update_pool(request: Request) -> Response:
    """Change a pool: `name`, `description`, `add_ip` and `remove_ip` (repeatable)."""
    (await principal(request)).require_account(write=True)
    form = await read_form(request)
    await _directory(request).update_pool(
        path_param(request, "pool_id"),
        name=form.get("name"),
        description=form.get("description"),
        add=form.get_all("add_ip"),
        remove=form.get_all("remove_ip"),
    )
    return json_response({"message": "success"})


async def delete_pool(request: Request) -> Response:
    """Delete a pool; its domains go back to their own addresses (or all sources)."""
    (await principal(request)).require_account(write=True)
    await _directory(request).delete_pool(path_param(request, "pool_id"))
    return json_response({"message": "started"})


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%a, %d %b %Y %H:%M:%S UTC")


def warmup_json(warm: Warmup, schedule: WarmupSchedule, now: float) -> dict[str, Any]:
    day, hour = warmup_day(warm.started_at, now), warmup_hour(warm.started_at, now)
    sent, hour_sent = warm.sent_on(day, hour)
    limit = daily_limit(schedule, warm.started_at, now)
    hourly = hourly_limit(schedule, warm.started_at, now)
    left = allowance(schedule, warm.started_at, now, sent, hour_sent)
    return {
        "ip": warm.ip,
        "plan_start_timestamp": _timestamp(warm.started_at),
        "stage_number": day + 1,
        "total_stages": schedule.days,
        "stage_volume_limit": None if limit == UNLIMITED else limit,
        "sent_within_stage": sent,
        "hourly_volume_limit": None if hourly == UNLIMITED else hourly,
        "sent_within_hour": hour_sent,
        "remaining_within_stage": None if left == UNLIMITED else left,
        "is_complete": is_warm(schedule, warm.started_at, now),
    }


async def list_warmups(request: Request) -> Response:
    """Every address in warm-up, with today's limit and what it sent today."""
    (await principal(request)).require_account()
    now, schedule = services(request).clock(), _schedule(request)
    warmups = await _directory(request).warmups()
    items = [warmup_json(w, schedule, now) for w in warmups.values()]
    return json_response({"items": items, "total_count": len(items)})


async def get_warmup(request: Request) -> Response:
    """One address's warm-up."""
    (await principal(request)).require_account()
    directory = _directory(request)
    ip = directory.source(path_param(request, "addr")).ip
    warm = (await directory.warmups()).get(ip)
    if warm is None:
        raise NotFound("IP is not in warm-up")
    details = warmup_json(warm, _schedule(request), services(request).clock())
    return json_response({"details": details})


async def start_warmup(request: Request) -> Response:
    """Start warming an address up: from now on it follows the warm-up schedule."""
    (await principal(request)).require_account(write=True)
    await _directory(request).start_warmup(path_param(request, "addr"))
    return json_response({"message": "success"})


async def stop_warmup(request: Request) -> Response:
    """Cancel an address's warm-up: it sends without a daily limit again."""
    (await principal(request)).require_account(write=True)
    await _directory(request).stop_warmup(path_param(request, "addr"))
    return json_response({"message": "success"})


ROUTES = [
    Route("/v3/ips", list_ips, methods=["GET"]),
    Route("/v3/ips/{ip}", get_ip, methods=["GET"]),
    *(
        route
        for version in ("v3", "v4")  # the Python SDK calls /v4/domains/{d}/ips
        for route in (
            Route(f"/{version}/domains/{{domain}}/ips", list_domain_ips, methods=["GET"]),
            Route(f"/{version}/domains/{{domain}}/ips", assign_domain_ip, methods=["POST"]),
            Route(
                f"/{version}/domains/{{domain}}/ips/{{ip}}", unassign_domain_ip, methods=["DELETE"]
            ),
        )
    ),
    Route("/v3/ip_pools", list_pools, methods=["GET"]),
    Route("/v3/ip_pools", create_pool, methods=["POST"]),
    Route("/v3/ip_pools/{pool_id}", get_pool, methods=["GET"]),
    Route("/v3/ip_pools/{pool_id}", update_pool, methods=["PATCH"]),
    Route("/v3/ip_pools/{pool_id}", delete_pool, methods=["DELETE"]),
    Route("/v3/ip_warmups", list_warmups, methods=["GET"]),
    Route("/v3/ip_warmups/{addr}", get_warmup, methods=["GET"]),
    Route("/v3/ip_warmups/{addr}", start_warmup, methods=["POST"]),
    Route("/v3/ip_warmups/{addr}", stop_warmup, methods=["DELETE"]),
]
