"""Automatic DKIM rotation (Mailgun's Automatic Sender Security DKIM key APIs) over our
rotation (``rotation.py``): each domain's setting, "rotate now", and the worker's round.

    PUT  /v1/dkim_management/domains/{name}/rotation  rotation_enabled, rotation_interval
    POST /v1/dkim_management/domains/{name}/rotate    a new pending key now

Mailgun hosts the keys behind two CNAMEs and switches at once. Here the domain's zone holds
each key's TXT record, and we never sign with a key whose record is not published: a rotation
makes a *pending* key (the record to publish), and the worker activates it once the record
verifies through the configured resolver; the key it replaces retires after its grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.domains.rotation import (
    activate_verified,
    effective_state,
    key_record,
    list_keys,
    retire_expired,
    rotate_key,
)
from mailwright.domains.rotation_policy import (
    OFF,
    RotationSetting,
    RotationStep,
    format_interval,
    next_step,
    parse_rotation_form,
    rotation_due_at,
)
from mailwright.logs import get_logger
from mailwright.resolver import Resolver
from mailwright.store import DkimKeyRow, DkimRotationRow, DomainRow, Store, dkim_keys

log = get_logger(__name__)

_COMMENTS = {
    "active": "DKIM key that signs now",
    "pending": "New DKIM key: publish it; signing switches to it once it verifies",
    "retiring": "Replaced DKIM key: keep it published until it retires",
}


def _setting(row: DkimRotationRow | None) -> RotationSetting:
    if row is None:
        return OFF
    return RotationSetting(is_enabled=row.is_enabled, interval=row.interval_seconds)


async def get_rotation(
    store: Store, name: str
) -> tuple[DomainRow, RotationSetting, list[DkimKeyRow]]:
    row, keys = await list_keys(store, name)
    async with store.read() as conn:
        return row, _setting(await dkim_keys.get_rotation(conn, row.id)), keys


async def update_rotation(
    store: Store, name: str, form: dict[str, str], *, now: float
) -> tuple[DomainRow, RotationSetting, list[DkimKeyRow]]:
    """Turn rotation on or off (``rotation_enabled``) and set ``rotation_interval``; a
    rotation already under way is not cancelled."""
    row, current, keys = await get_rotation(store, name)
    setting = parse_rotation_form(form, current)

    async def write(conn: AsyncConnection) -> None:
        await dkim_keys.set_rotation(
            conn,
            row.id,
            is_enabled=setting.is_enabled,
            interval_seconds=setting.interval,
            now=now,
        )

    await store.write(write)
    return row, setting, keys


async def rotate_now(store: Store, name: str, *, now: float) -> tuple[DomainRow, DkimKeyRow]:
    """A new pending RSA key (replacing any pending one), rotation on or off; the worker
    activates it once its record is published."""
    return await rotate_key(store, name, {}, now=now, is_activated_on_publish=True)


def _date(ts: float | None) -> str | None:
    return None if ts is None else formatdate(ts, usegmt=True)


def rotation_json(setting: RotationSetting, keys: list[DkimKeyRow]) -> dict[str, Any]:
    """``{"enabled", "interval", "next_rotation_at"}`` (null when off or under way)."""
    return {
        "enabled": setting.is_enabled,
        "interval": format_interval(setting.interval),
        "next_rotation_at": _date(rotation_due_at(setting, keys)),
    }


def mailgun_rotation_json(
    row: DomainRow, setting: RotationSetting, keys: list[DkimKeyRow], *, now: float
) -> dict[str, Any]:
    """Mailgun's ``{"domain": {...}}``: ``state`` is ``wait_verify`` while a new RSA key waits
    for its record, else ``enabled``; ``records`` are the TXT records of the keys to keep
    published (Mailgun's are CNAMEs to its own servers)."""
    states = [(k, effective_state(k, now)) for k in keys]
    waiting = any(k.algorithm == "rsa" and state == "pending" for k, state in states)
    return {
        "domain": {
            "id": row.id,
            "account_id": "",
            "sid": row.id,
            "name": row.name,
            "state": "wait_verify" if waiting else "enabled",
            "active_selector": row.dkim_selector,
            "rotation_enabled": "true" if setting.is_enabled else "false",
            "rotation_interval": format_interval(setting.interval),
            "records": [
                {
                    "name": record.name,
                    "type": record.record_type,
                    "identifier": "DKIM",
                    "value": record.value,
                    "comment": _COMMENTS[state],
                }
                for key, state in states
                if state in _COMMENTS
                for record in [key_record(key, row.name)]
            ],
        }
    }


@dataclass(slots=True)
class RotationRound:
    """What one round did, by domain name."""

    started: list[str] = field(default_factory=list)
    activated: list[str] = field(default_factory=list)
    retired: int = 0  # keys past their grace period


async def _advance(
    store: Store, resolver: Resolver, name: str, setting: RotationSetting, now: float
) -> RotationStep:
    """One domain's step (``next_step``); ``NONE`` also when its pending key's record is not
    published yet."""
    row, keys = await list_keys(store, name)
    step = next_step(setting, keys, now)
    if step is RotationStep.START:
        _, key = await rotate_key(
            store, name, {}, now=now, is_activated_on_publish=True, is_replacing_pending=False
        )
        record = key_record(key, row.name)
        log.info("dkim_rotation_started", domain=row.name, record=record.name, value=record.value)
    elif step is RotationStep.ACTIVATE:
        pending = next(
            k
            for k in keys
            if k.algorithm == "rsa" and k.state == "pending" and k.is_activated_on_publish
        )
        activated, _ = await activate_verified(
            store, resolver, row, now=now, selector=pending.selector
        )
        if not activated:
            return RotationStep.NONE
        log.info("dkim_rotation_activated", domain=row.name, selector=pending.selector)
    return step


async def run_rotations(
    store: Store, resolver: Resolver, *, now: float, on_activated: Callable[[str], None]
) -> RotationRound:
    """One round over the domains with rotation on or a rotation under way, then the
    retirement of replaced keys past their grace period. A domain that fails is logged and
    tried again next round."""
    async with store.read() as conn:
        candidates = await dkim_keys.rotation_candidates(conn)
    done = RotationRound()
    for row, setting in candidates:
        try:
            step = await _advance(store, resolver, row.name, _setting(setting), now)
        except Exception:
            log.exception("dkim_rotation_failed", domain=row.name)
            continue
        if step is RotationStep.START:
            done.started.append(row.name)
        elif step is RotationStep.ACTIVATE:
            done.activated.append(row.name)
            on_activated(row.name)
    done.retired = await retire_expired(store, now=now)
    return done


class DkimRotator:
    """``run_rotations`` at start and then every ``every`` seconds (worker role). The
    resolver and the clock are looked up each round (tests point them elsewhere)."""

    def __init__(
        self,
        store: Store,
        resolver: Callable[[], Resolver],
        clock: Callable[[], float],
        *,
        every: float,
        on_activated: Callable[[str], None],
    ) -> None:
        self._store = store
        self._resolver = resolver
        self._clock = clock
        self._every = every
        self._on_activated = on_activated
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def run_once(self) -> RotationRound:
        done = await run_rotations(
            self._store, self._resolver(), now=self._clock(), on_activated=self._on_activated
        )
        if done.started or done.activated or done.retired:
            log.info(
                "dkim_rotations",
                started=len(done.started),
                activated=len(done.activated),
                retired=done.retired,
            )
        return done

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("dkim_rotation_round_failed")
            await asyncio.sleep(self._every)
