"""All SQL of mailwright: one function per query, each taking the connection it runs on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import schema
from mailwright.store.records import DeliveryRow, DomainRow, InboxRow, KeyRow, MessageRow
from mailwright.store.sealed import setting_place
from mailwright.store.sealing import Keyring
from mailwright.store.upsert import UpsertRows, plan_upserts

# -- domains -----------------------------------------------------------------------------


async def insert_domain(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(schema.domains), [values])


async def get_domain(conn: AsyncConnection, name: str) -> DomainRow | None:
    row = (
        await conn.execute(select(schema.domains).where(schema.domains.c.name == name.lower()))
    ).first()
    return None if row is None else DomainRow.from_row(row)


async def list_domains(
    conn: AsyncConnection, *, limit: int, skip: int, state: str | None = None
) -> tuple[int, list[DomainRow]]:
    where = [] if state is None else [schema.domains.c.state == state]
    total = (
        await conn.execute(select(func.count()).select_from(schema.domains).where(*where))
    ).scalar_one()
    rows = await conn.execute(
        select(schema.domains)
        .where(*where)
        .order_by(schema.domains.c.created_at, schema.domains.c.name)
        .limit(limit)
        .offset(skip)
    )
    return int(total), [DomainRow.from_row(r) for r in rows]


async def update_domain(conn: AsyncConnection, name: str, values: dict[str, Any]) -> None:
    await conn.execute(
        update(schema.domains).where(schema.domains.c.name == name.lower()).values(**values)
    )


async def delete_domain(conn: AsyncConnection, name: str) -> bool:
    # Its egress assignments go with it: a domain created again later starts unassigned.
    await conn.execute(delete(schema.domain_ips).where(schema.domain_ips.c.domain == name.lower()))
    await conn.execute(
        delete(schema.domain_ip_pools).where(schema.domain_ip_pools.c.domain == name.lower())
    )
    result = await conn.execute(delete(schema.domains).where(schema.domains.c.name == name.lower()))
    return bool(result.rowcount)


async def count_domains(conn: AsyncConnection, *, type_: str) -> int:
    query = select(func.count()).select_from(schema.domains).where(schema.domains.c.type == type_)
    return int((await conn.execute(query)).scalar_one())


# -- API keys ----------------------------------------------------------------------------


async def insert_key(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(schema.api_keys), [values])


async def find_key(conn: AsyncConnection, secret_hash: str) -> KeyRow | None:
    row = (
        await conn.execute(
            select(schema.api_keys).where(schema.api_keys.c.secret_hash == secret_hash)
        )
    ).first()
    return None if row is None else KeyRow.from_row(row)


async def list_keys(
    conn: AsyncConnection, *, domain_name: str | None = None, kind: str | None = None
) -> list[KeyRow]:
    where: list[ColumnElement[bool]] = []
    if domain_name is not None:
        where.append(schema.api_keys.c.domain_name == domain_name)
    if kind is not None:
        where.append(schema.api_keys.c.kind == kind)
    rows = await conn.execute(
        select(schema.api_keys).where(*where).order_by(schema.api_keys.c.created_at)
    )
    return [KeyRow.from_row(r) for r in rows]


async def delete_key(conn: AsyncConnection, key_id: str) -> bool:
    result = await conn.execute(delete(schema.api_keys).where(schema.api_keys.c.id == key_id))
    return bool(result.rowcount)


async def touch_keys(conn: AsyncConnection, used: dict[str, float]) -> None:
    """Record when keys were last used (``id -> time``); a time never moves backwards."""
    if not used:
        return
    keys = schema.api_keys
    statement = (
        update(keys)
        .where(keys.c.id == bindparam("key_id"))
        .where(or_(keys.c.last_used_at.is_(None), keys.c.last_used_at < bindparam("used_at")))
        .values(last_used_at=bindparam("used_at"))
    )
    await conn.execute(statement, [{"key_id": k, "used_at": t} for k, t in sorted(used.items())])


KEYS_CHANNEL = "mailwright_keys"


async def notify_keys_changed(conn: AsyncConnection, key_id: str) -> None:
    """Tell every process's key cache to forget (PostgreSQL NOTIFY, sent at commit).

    SQLite serves one API process, which forgets locally."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_notify(KEYS_CHANNEL, key_id)))


async def has_primary_key(conn: AsyncConnection) -> bool:
    query = select(func.count()).select_from(schema.api_keys).where(schema.api_keys.c.is_primary)
    return bool((await conn.execute(query)).scalar_one())


# -- messages and deliveries -------------------------------------------------------------


async def get_message(conn: AsyncConnection, key: str) -> MessageRow | None:
    row = (await conn.execute(select(schema.messages).where(schema.messages.c.id == key))).first()
    return None if row is None else MessageRow.from_row(row)


async def get_blobs(conn: AsyncConnection, key: str) -> list[bytes]:
    rows = await conn.execute(
        select(schema.message_blobs.c.data)
        .where(schema.message_blobs.c.message_key == key)
        .order_by(schema.message_blobs.c.idx)
    )
    return [bytes(r[0]) for r in rows]


async def get_messages(conn: AsyncConnection, keys: Sequence[str]) -> list[MessageRow]:
    rows = await conn.execute(select(schema.messages).where(schema.messages.c.id.in_(keys)))
    return [MessageRow.from_row(r) for r in rows]


async def get_blobs_many(conn: AsyncConnection, keys: Sequence[str]) -> dict[str, list[bytes]]:
    b = schema.message_blobs
    rows = await conn.execute(
        select(b.c.message_key, b.c.data).where(b.c.message_key.in_(keys)).order_by(b.c.idx)
    )
    found: dict[str, list[bytes]] = {}
    for key, data in rows:
        found.setdefault(str(key), []).append(bytes(data))
    return found


async def settle_deliveries(
    conn: AsyncConnection, updates: Sequence[dict[str, Any]], *, worker: str, now: float
) -> None:
    """Apply ``{b_id, b_status, b_due, b_code, b_message}`` to deliveries this worker claimed."""
    if not updates:
        return
    d = schema.deliveries
    await conn.execute(
        update(d)
        .where(d.c.id == bindparam("b_id"), d.c.claimed_by == worker, d.c.status == "queued")
        .values(
            status=bindparam("b_status"),
            due_at=bindparam("b_due"),
            last_code=bindparam("b_code"),
            last_message=bindparam("b_message"),
            claimed_by=None,
            claimed_until=None,
            updated_at=now,
        ),
        list(updates),
    )


async def insert_attempts(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(schema.attempts), list(rows))


async def list_attempts(conn: AsyncConnection, message_key: str) -> list[dict[str, Any]]:
    a = schema.attempts
    rows = await conn.execute(
        select(a).where(a.c.message_key == message_key).order_by(a.c.started_at, a.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def list_deliveries_of(conn: AsyncConnection, message_key: str) -> list[dict[str, Any]]:
    """One row per recipient of a stored message, in recipient order."""
    d = schema.deliveries
    columns = [
        d.c.id,
        d.c.recipient,
        d.c.status,
        d.c.attempts,
        d.c.due_at,
        d.c.updated_at,
        d.c.last_code,
        d.c.last_message,
    ]
    rows = await conn.execute(
        select(*columns).where(d.c.message_key == message_key).order_by(d.c.recipient_index, d.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def claim_due(
    conn: AsyncConnection,
    *,
    worker: str,
    now: float,
    lease: float,
    limit: int,
    skip_locked: bool,
    exclude_domains: Sequence[str] = (),
) -> list[DeliveryRow]:
    """Claim up to ``limit`` due deliveries for ``worker`` until ``now + lease``.

    A claim whose lease ran out (its worker died) is due again. On PostgreSQL the candidate
    rows are locked with SKIP LOCKED so concurrent workers never claim the same row.
    """
    d = schema.deliveries
    candidates = (
        select(d.c.id)
        .where(
            d.c.status == "queued",
            d.c.due_at <= now,
            or_(d.c.claimed_until.is_(None), d.c.claimed_until < now),
            # Destinations already busy in this worker wait, so one slow site cannot take
            # every claim (fairness between domains).
            d.c.recipient_domain.not_in(exclude_domains) if exclude_domains else d.c.id > 0,
        )
        .order_by(d.c.due_at)
        .limit(limit)
    )
    if skip_locked:
        candidates = candidates.with_for_update(skip_locked=True)
    rows = await conn.execute(
        update(d)
        .where(d.c.id.in_(candidates.scalar_subquery()))
        .values(claimed_by=worker, claimed_until=now + lease, attempts=d.c.attempts + 1)
        .returning(*d.c)
    )
    return [DeliveryRow.from_row(r) for r in rows]


async def cancel_queued(
    conn: AsyncConnection, domain: str, *, now: float, message: str
) -> list[tuple[str, str]]:
    """Fail every queued delivery of ``domain`` that no worker is attempting now (a lapsed
    claim counts as free); answers each one's (message key, recipient)."""
    d = schema.deliveries
    rows = await conn.execute(
        update(d)
        .where(
            d.c.domain == domain.lower(),
            d.c.status == "queued",
            or_(d.c.claimed_until.is_(None), d.c.claimed_until < now),
        )
        .values(
            status="failed",
            claimed_by=None,
            claimed_until=None,
            last_code=None,
            last_message=message,
            updated_at=now,
        )
        .returning(d.c.message_key, d.c.recipient, d.c.recipient_index)
    )
    ordered = sorted(rows, key=lambda r: (r.message_key, r.recipient_index))
    return [(str(r.message_key), str(r.recipient)) for r in ordered]


async def held_claims(conn: AsyncConnection, ids: Sequence[int], *, worker: str) -> set[int]:
    """Which of ``ids`` are still queued and claimed by ``worker`` (locked on PostgreSQL until
    the transaction ends, so no other worker can claim them meanwhile)."""
    if not ids:
        return set()
    d = schema.deliveries
    query = select(d.c.id).where(
        d.c.id.in_(list(ids)), d.c.claimed_by == worker, d.c.status == "queued"
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return {int(r[0]) for r in await conn.execute(query)}


async def renew_claims(conn: AsyncConnection, *, worker: str, until: float) -> None:
    d = schema.deliveries
    await conn.execute(
        update(d)
        .where(d.c.claimed_by == worker, d.c.status == "queued")
        .values(claimed_until=until)
    )


async def release_claims(conn: AsyncConnection, *, worker: str) -> None:
    d = schema.deliveries
    await conn.execute(
        update(d)
        .where(d.c.claimed_by == worker, d.c.status == "queued")
        .values(claimed_by=None, claimed_until=None)
    )


async def next_due_at(conn: AsyncConnection) -> float | None:
    d = schema.deliveries
    # A claimed delivery is not due before its lease runs out, whatever its due_at says.
    due = case((d.c.claimed_until > d.c.due_at, d.c.claimed_until), else_=d.c.due_at)
    query = select(func.min(due)).where(d.c.status == "queued")
    value = (await conn.execute(query)).scalar_one()
    return None if value is None else float(value)


async def purge_expired(conn: AsyncConnection, now: float) -> int:
    """Delete messages (with blobs and deliveries), captured mail and events past retention."""
    result = await conn.execute(
        delete(schema.messages).where(
            schema.messages.c.expires_at < now,
            ~select(schema.deliveries.c.id)
            .where(
                schema.deliveries.c.message_key == schema.messages.c.id,
                schema.deliveries.c.status == "queued",
            )
            .exists(),
        )
    )
    await conn.execute(delete(schema.inbox).where(schema.inbox.c.expires_at < now))
    return int(result.rowcount)


async def purge_events(conn: AsyncConnection, before: float) -> None:
    e, t = schema.events, schema.event_to_headers
    await conn.execute(delete(e).where(e.c.timestamp < before))
    # A To header kept apart goes with its message's last event (``ix_events_to_apart``),
    # once the message itself is gone (a message still stored may have events to come).
    m = schema.messages
    await conn.execute(
        delete(t).where(
            t.c.created_at < before,
            ~select(m.c.id).where(m.c.message_id == t.c.message_id).exists(),
            # A literal '' (not a bound parameter) lets SQLite use the partial index.
            ~select(e.c.seq)
            .where(e.c.to == literal_column("''"), e.c.message_id == t.c.message_id)
            .exists(),
        )
    )


async def to_headers_of(conn: AsyncConnection, message_ids: Sequence[str]) -> dict[str, str]:
    """The To headers kept apart (``event_to_headers``) of these messages, by Message-Id."""
    if not message_ids:
        return {}
    t = schema.event_to_headers
    rows = await conn.execute(select(t.c.message_id, t.c.to).where(t.c.message_id.in_(message_ids)))
    return {str(mid): str(to) for mid, to in rows}


# -- events ------------------------------------------------------------------------------


async def insert_events(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(schema.events), list(rows))


async def select_events(
    conn: AsyncConnection,
    where: Sequence[ColumnElement[bool]],
    *,
    ascending: bool,
    limit: int,
) -> list[tuple[int, float, str]]:
    """(seq, timestamp, payload JSON) of matching events in time order."""
    e = schema.events
    order = (e.c.timestamp, e.c.seq) if ascending else (e.c.timestamp.desc(), e.c.seq.desc())
    rows = await conn.execute(
        select(e.c.seq, e.c.timestamp, e.c.payload).where(*where).order_by(*order).limit(limit)
    )
    return [(int(r[0]), float(r[1]), str(r[2])) for r in rows]


async def event_cursor_at(
    conn: AsyncConnection, where: Sequence[ColumnElement[bool]], *, ascending: bool, offset: int
) -> tuple[float, int] | None:
    """(timestamp, seq) of the ``offset``-th matching event in time order, None if fewer match."""
    e = schema.events
    order = (e.c.timestamp, e.c.seq) if ascending else (e.c.timestamp.desc(), e.c.seq.desc())
    row = (
        await conn.execute(
            select(e.c.timestamp, e.c.seq).where(*where).order_by(*order).offset(offset).limit(1)
        )
    ).first()
    return None if row is None else (float(row[0]), int(row[1]))


async def count_events_by_type(
    conn: AsyncConnection, where: Sequence[ColumnElement[bool]]
) -> dict[str, int]:
    """How many events match, per event type (types with none are left out)."""
    e = schema.events
    rows = await conn.execute(select(e.c.event, func.count()).where(*where).group_by(e.c.event))
    return {str(r[0]): int(r[1]) for r in rows}


# -- capture inbox -----------------------------------------------------------------------


async def insert_inbox(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(schema.inbox), list(rows))


async def list_inbox(
    conn: AsyncConnection,
    *,
    limit: int,
    skip: int,
    recipient: str | None = None,
    domain: str | None = None,
    subject: str | None = None,
    is_test_only: bool = False,
) -> tuple[int, list[InboxRow]]:
    i = schema.inbox
    where: list[ColumnElement[bool]] = _inbox_scope(is_test_only)
    if recipient:
        where.append(i.c.recipient == recipient.lower())
    if subject:
        where.append(func.lower(i.c.subject).contains(subject.lower(), autoescape=True))
    if domain:
        where.append(i.c.domain == domain.lower())
    total = (await conn.execute(select(func.count()).select_from(i).where(*where))).scalar_one()
    columns = [c for c in i.c if c.name != "raw"]
    rows = await conn.execute(
        select(*columns).where(*where).order_by(i.c.created_at.desc()).limit(limit).offset(skip)
    )
    return int(total), [InboxRow.from_row(r) for r in rows]


def _inbox_scope(is_test_only: bool) -> list[ColumnElement[bool]]:
    """With ``is_test_only``, the captured mail of test-mode messages only."""
    if not is_test_only:
        return []
    m = schema.messages
    tested = select(m.c.id).where(m.c.is_test_mode.is_(True))
    return [schema.inbox.c.message_key.in_(tested)]


async def get_inbox(
    conn: AsyncConnection, item_id: str, *, is_test_only: bool = False
) -> tuple[InboxRow, bytes] | None:
    query = select(schema.inbox).where(schema.inbox.c.id == item_id, *_inbox_scope(is_test_only))
    row = (await conn.execute(query)).first()
    return None if row is None else (InboxRow.from_row(row), bytes(row._mapping["raw"]))


async def delete_inbox(
    conn: AsyncConnection, item_id: str | None, *, is_test_only: bool = False
) -> int:
    query = delete(schema.inbox).where(*_inbox_scope(is_test_only))
    if item_id is not None:
        query = query.where(schema.inbox.c.id == item_id)
    return int((await conn.execute(query)).rowcount)


# -- suppressions ------------------------------------------------------------------------

_SUPPRESSION_VALUES = ("type", "code", "error", "tags", "reason", "created_at")


def _suppressions(test: bool) -> Table:
    """The live lists, or those of test-environment credentials."""
    return schema.test_suppressions if test else schema.suppressions


def _suppression_order(conn: AsyncConnection, test: bool = False) -> ColumnElement[str]:
    # Byte order on both databases, so a page cursor means the same thing everywhere
    # (PostgreSQL's default collation ignores punctuation such as '@' and '.').
    address = _suppressions(test).c.address
    return address.collate("C") if conn.dialect.name == "postgresql" else address


async def upsert_suppressions(
    conn: AsyncConnection, rows: Sequence[dict[str, Any]], *, test: bool = False
) -> None:
    """Insert rows, replacing any with the same (domain, kind, address) in place."""
    if not rows:
        return
    # ON CONFLICT is spelled per dialect; both accept the same construct.
    from sqlalchemy.dialects import postgresql, sqlite

    s = _suppressions(test)
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(s)
        pg_set = {name: pg.excluded[name] for name in _SUPPRESSION_VALUES}
        query: Any = pg.on_conflict_do_update(
            index_elements=[s.c.domain, s.c.kind, s.c.address], set_=pg_set
        )
    else:
        lite = sqlite.insert(s)
        lite_set = {name: lite.excluded[name] for name in _SUPPRESSION_VALUES}
        query = lite.on_conflict_do_update(
            index_elements=[s.c.domain, s.c.kind, s.c.address], set_=lite_set
        )
    await conn.execute(query, list(rows))


async def select_suppressions(
    conn: AsyncConnection,
    *,
    domain: str,
    kind: str,
    limit: int,
    after: str | None = None,
    before: str | None = None,
    prefix: str | None = None,
    descending: bool = False,
    test: bool = False,
) -> list[dict[str, Any]]:
    """One page of a list in address order: after/before are exclusive address cursors."""
    s = _suppressions(test)
    order = _suppression_order(conn, test)
    where: list[ColumnElement[bool]] = [s.c.domain == domain, s.c.kind == kind]
    if after is not None:
        where.append(order > after)
    if before is not None:
        where.append(order < before)
    if prefix:
        where.append(s.c.address.startswith(prefix, autoescape=True))
    rows = await conn.execute(
        select(s).where(*where).order_by(order.desc() if descending else order).limit(limit)
    )
    return [dict(r._mapping) for r in rows]


async def find_suppressions(
    conn: AsyncConnection,
    *,
    domain: str,
    addresses: Sequence[str],
    kind: str | None = None,
    test: bool = False,
) -> list[dict[str, Any]]:
    """The rows of one domain whose address is one of ``addresses`` (of one kind, or all)."""
    s = _suppressions(test)
    where = [s.c.domain == domain, s.c.address.in_(list(addresses))]
    if kind is not None:
        where.append(s.c.kind == kind)
    return [dict(r._mapping) for r in await conn.execute(select(s).where(*where))]


async def delete_suppressions(
    conn: AsyncConnection,
    *,
    domain: str,
    kind: str,
    address: str | None = None,
    test: bool = False,
) -> int:
    """Delete one address from a list, or the whole list when ``address`` is None."""
    s = _suppressions(test)
    query = delete(s).where(s.c.domain == domain, s.c.kind == kind)
    if address is not None:
        query = query.where(s.c.address == address)
    return int((await conn.execute(query)).rowcount)


# -- settings -------------------------------------------------------------------------------


async def get_setting(conn: AsyncConnection, name: str, keyring: Keyring) -> str | None:
    s = schema.settings
    value = (await conn.execute(select(s.c.value).where(s.c.name == name))).scalar_one_or_none()
    return None if value is None else keyring.open(str(value), setting_place(name))


async def put_setting(
    conn: AsyncConnection, name: str, value: str, keyring: Keyring, *, now: float
) -> None:
    """Set ``name`` to ``value`` (insert or replace), sealed: every setting is a secret key."""
    s = schema.settings
    sealed = keyring.seal(value, setting_place(name))
    updated = await conn.execute(
        update(s).where(s.c.name == name).values(value=sealed, updated_at=now)
    )
    if not updated.rowcount:
        await conn.execute(insert(s), [{"name": name, "value": sealed, "updated_at": now}])


async def setting_or_create(
    conn: AsyncConnection, name: str, value: str, keyring: Keyring, *, now: float
) -> str:
    """The stored value of ``name``; stores ``value`` first when there is none. Two processes
    racing store one value between them: the loser reads the winner's."""
    found = await get_setting(conn, name, keyring)
    if found is not None:
        return found
    s = schema.settings
    row = {"name": name, "value": keyring.seal(value, setting_place(name)), "updated_at": now}
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        await conn.execute(pg_insert(s).on_conflict_do_nothing(index_elements=[s.c.name]), [row])
    else:
        from sqlalchemy.dialects.sqlite import insert as lite_insert

        await conn.execute(lite_insert(s).on_conflict_do_nothing(index_elements=[s.c.name]), [row])
    stored = await get_setting(conn, name, keyring)
    assert stored is not None
    return stored


# -- webhooks ------------------------------------------------------------------------------


async def webhooks_of(
    conn: AsyncConnection, domains: Sequence[str]
) -> dict[str, dict[str, list[str]]]:
    """domain -> kind -> URLs (in the order given) for the given domains; absent when none."""
    if not domains:
        return {}
    w = schema.webhooks
    rows = await conn.execute(
        select(w.c.domain, w.c.kind, w.c.url)
        .where(w.c.domain.in_(sorted(set(domains))))
        .order_by(w.c.domain, w.c.kind, w.c.position, w.c.id)
    )
    found: dict[str, dict[str, list[str]]] = {}
    for domain, kind, url in rows:
        found.setdefault(str(domain), {}).setdefault(str(kind), []).append(str(url))
    return found


async def replace_webhook(
    conn: AsyncConnection, *, domain: str, kind: str, urls: Sequence[str], now: float
) -> None:
    """Make ``urls`` the URLs of ``kind`` on ``domain`` (none deletes the webhook)."""
    w = schema.webhooks
    await conn.execute(delete(w).where(w.c.domain == domain, w.c.kind == kind))
    if urls:
        await conn.execute(
            insert(w),
            [
                {"domain": domain, "kind": kind, "url": url, "position": i, "created_at": now}
                for i, url in enumerate(urls)
            ],
        )


@dataclass(frozen=True, slots=True)
class EventWebhooks:
    """The webhooks events may trigger: each domain's (domain -> kind -> URLs) and the
    account's (kind -> URLs), URLs in their order."""

    domains: dict[str, dict[str, list[str]]]
    account: dict[str, list[str]]


async def event_webhooks(conn: AsyncConnection, domains: Sequence[str]) -> EventWebhooks:
    """The domain webhooks of ``domains`` and every account webhook, in one query."""
    w, a, k = schema.webhooks, schema.account_webhooks, schema.account_webhook_kinds
    own = select(
        w.c.domain, w.c.kind, w.c.url, w.c.position.label("pos"), w.c.id.label("seq")
    ).where(w.c.domain.in_(sorted(set(domains))))
    account = select(
        null().label("domain"),
        k.c.kind,
        a.c.url,
        literal_column("0").label("pos"),
        a.c.id.label("seq"),
    ).join_from(k, a, k.c.webhook_id == a.c.webhook_id)
    both = union_all(own, account)
    rows = await conn.execute(both.order_by(both.selected_columns.pos, both.selected_columns.seq))
    found = EventWebhooks(domains={}, account={})
    for domain, kind, url, _, _ in rows:
        hooks = found.account if domain is None else found.domains.setdefault(str(domain), {})
        hooks.setdefault(str(kind), []).append(str(url))
    return found


async def account_webhooks(
    conn: AsyncConnection, webhook_ids: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Account webhooks in creation order, each with ``event_types`` (its kinds); only those
    of ``webhook_ids`` when given."""
    a, k = schema.account_webhooks, schema.account_webhook_kinds
    query = select(a).order_by(a.c.id)
    if webhook_ids is not None:
        query = query.where(a.c.webhook_id.in_(sorted(set(webhook_ids))))
    hooks = [dict(r._mapping) for r in await conn.execute(query)]
    if not hooks:
        return []
    kinds = await conn.execute(
        select(k.c.webhook_id, k.c.kind)
        .where(k.c.webhook_id.in_([h["webhook_id"] for h in hooks]))
        .order_by(k.c.webhook_id, k.c.kind)
    )
    by_id: dict[str, list[str]] = {}
    for webhook_id, kind in kinds:
        by_id.setdefault(str(webhook_id), []).append(str(kind))
    for hook in hooks:
        hook["event_types"] = by_id.get(hook["webhook_id"], [])
    return hooks


async def put_account_webhook(
    conn: AsyncConnection,
    *,
    webhook_id: str,
    url: str,
    description: str,
    kinds: Sequence[str],
    now: float | None,
) -> None:
    """Create the account webhook (``now`` is its creation time), or replace its URL,
    description and kinds (``now`` None)."""
    a, k = schema.account_webhooks, schema.account_webhook_kinds
    values = {"url": url, "description": description}
    if now is None:
        await conn.execute(update(a).where(a.c.webhook_id == webhook_id).values(values))
        await conn.execute(delete(k).where(k.c.webhook_id == webhook_id))
    else:
        await conn.execute(insert(a), [values | {"webhook_id": webhook_id, "created_at": now}])
    await conn.execute(insert(k), [{"webhook_id": webhook_id, "kind": kind} for kind in kinds])


async def delete_account_webhooks(conn: AsyncConnection, webhook_ids: Sequence[str] | None) -> None:
    """Delete the account webhooks of ``webhook_ids``; every one when None."""
    a, k = schema.account_webhooks, schema.account_webhook_kinds
    if webhook_ids is None:
        await conn.execute(delete(k))
        await conn.execute(delete(a))
        return
    ids = sorted(set(webhook_ids))
    await conn.execute(delete(k).where(k.c.webhook_id.in_(ids)))
    await conn.execute(delete(a).where(a.c.webhook_id.in_(ids)))


async def insert_outbox(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(schema.webhook_outbox), list(rows))


async def claim_outbox(
    conn: AsyncConnection,
    *,
    worker: str,
    now: float,
    lease: float,
    limit: int,
    skip_locked: bool,
    exclude_endpoints: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Claim up to ``limit`` due outbox rows for ``worker`` until ``now + lease`` (as
    ``claim_due`` does for deliveries: a lapsed lease is due again; SKIP LOCKED on PostgreSQL)."""
    o = schema.webhook_outbox
    candidates = (
        select(o.c.id)
        .where(
            o.c.status == "queued",
            o.c.due_at <= now,
            or_(o.c.claimed_until.is_(None), o.c.claimed_until < now),
            o.c.endpoint.not_in(exclude_endpoints) if exclude_endpoints else o.c.id > 0,
        )
        .order_by(o.c.due_at, o.c.id)
        .limit(limit)
    )
    if skip_locked:
        candidates = candidates.with_for_update(skip_locked=True)
    rows = await conn.execute(
        update(o)
        .where(o.c.id.in_(candidates.scalar_subquery()))
        .values(claimed_by=worker, claimed_until=now + lease, attempts=o.c.attempts + 1)
        .returning(*o.c)
    )
    return sorted((dict(r._mapping) for r in rows), key=lambda r: (r["due_at"], r["id"]))


async def settle_outbox(
    conn: AsyncConnection, updates: Sequence[dict[str, Any]], *, worker: str, now: float
) -> None:
    """Apply ``{b_id, b_status, b_due, b_code, b_error, b_answer}`` to rows this worker still
    holds."""
    if not updates:
        return
    o = schema.webhook_outbox
    await conn.execute(
        update(o)
        .where(o.c.id == bindparam("b_id"), o.c.claimed_by == worker, o.c.status == "queued")
        .values(
            status=bindparam("b_status"),
            due_at=bindparam("b_due"),
            last_status=bindparam("b_code"),
            last_error=bindparam("b_error"),
            last_answer=bindparam("b_answer"),
            claimed_by=None,
            claimed_until=None,
            updated_at=now,
        ),
        list(updates),
    )


async def release_outbox(conn: AsyncConnection, *, worker: str) -> None:
    o = schema.webhook_outbox
    await conn.execute(
        update(o)
        .where(o.c.claimed_by == worker, o.c.status == "queued")
        .values(claimed_by=None, claimed_until=None)
    )


async def next_outbox_due(conn: AsyncConnection) -> float | None:
    o = schema.webhook_outbox
    due = case((o.c.claimed_until > o.c.due_at, o.c.claimed_until), else_=o.c.due_at)
    value = (await conn.execute(select(func.min(due)).where(o.c.status == "queued"))).scalar_one()
    return None if value is None else float(value)


async def list_outbox(
    conn: AsyncConnection,
    *,
    status: str | None,
    domain: str | None,
    retrying: bool,
    limit: int,
) -> list[dict[str, Any]]:
    """Outbox rows, newest first, without their payload; ``retrying`` keeps queued rows that
    have failed at least once."""
    o = schema.webhook_outbox
    where: list[ColumnElement[bool]] = []
    if retrying:
        where += [o.c.status == "queued", o.c.attempts > 0, o.c.last_error.is_not(None)]
    elif status is not None:
        where.append(o.c.status == status)
    if domain is not None:
        where.append(o.c.domain == domain)
    columns = [c for c in o.c if c.name != "payload"]
    rows = await conn.execute(select(*columns).where(*where).order_by(o.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


async def purge_outbox(conn: AsyncConnection, before: float) -> None:
    """Delete finished outbox rows (delivered, dropped, failed) created before ``before``."""
    o = schema.webhook_outbox
    await conn.execute(
        delete(o).where(o.c.created_at < before, o.c.status.in_(["delivered", "dropped", "failed"]))
    )


async def renew_outbox(conn: AsyncConnection, *, worker: str, until: float) -> None:
    o = schema.webhook_outbox
    await conn.execute(
        update(o)
        .where(o.c.claimed_by == worker, o.c.status == "queued")
        .values(claimed_until=until)
    )


# -- stats and tags ----------------------------------------------------------------------


async def apply_upserts(conn: AsyncConnection, upserts: UpsertRows) -> None:
    """Merge counter and tag rows in the caller's transaction (see ``upsert.py``)."""
    for sql, values in plan_upserts(upserts, conn.dialect):
        await conn.exec_driver_sql(sql, values)


async def sum_counters(
    conn: AsyncConnection,
    *,
    domain: str | None,
    tag: str,
    stats: Sequence[str],
    start: int,
    end: int,
    step: int,
    test: bool = False,
) -> list[tuple[int, str, int]]:
    """(bucket start, stat, count) for hours in [start, end), summed per ``step`` seconds
    (3600 or 86400) of one domain, or of every domain when ``domain`` is None; ``test`` reads
    the test-mode counters instead of the live ones."""
    c = _counters(test)
    bucket = _bucket(c, step)
    where = [c.c.tag == tag, c.c.stat.in_(list(stats)), c.c.hour >= start, c.c.hour < end]
    if domain is not None:
        where.append(c.c.domain == domain)
    rows = await conn.execute(
        select(bucket.label("bucket"), c.c.stat, func.sum(c.c.count))
        .where(*where)
        .group_by(bucket, c.c.stat)
    )
    return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]


def _counters(test: bool) -> Table:
    return schema.test_stat_counters if test else schema.stat_counters


def _bucket(c: Table, step: int) -> ColumnElement[int]:
    """The start of the ``step``-second bucket (3600 or 86400) holding each counter's hour."""
    return c.c.hour if step == 3600 else (c.c.hour // step) * step


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterSlice:
    """Which counters ``group_counters`` sums, and what it groups them by."""

    start: int  # hours in [start, end)
    end: int
    step: int  # 3600 or 86400
    test: bool = False  # the test-mode counters
    tagged: bool = False  # each tag's counters instead of the "" (every message) ones
    domains: tuple[str, ...] | None = None  # only these domains (None: all)
    not_domains: tuple[str, ...] = ()
    tags: tuple[str, ...] | None = None  # only these tags (with ``tagged``)
    not_tags: tuple[str, ...] = ()
    by_domain: bool = False
    by_tag: bool = False


async def group_counters(
    conn: AsyncConnection, part: CounterSlice
) -> list[tuple[int, str, str, str, int]]:
    """(bucket start, domain, tag, stat, count) summed per bucket and, when asked, per domain
    and per tag; the domain or tag is ``""`` when not grouped by."""
    c = _counters(part.test)
    bucket = _bucket(c, part.step)
    where: list[ColumnElement[bool]] = [c.c.hour >= part.start, c.c.hour < part.end]
    # Domain "" holds the account's own counters (single validations), not sending traffic.
    where.append(c.c.domain != "")
    where.append(c.c.tag != "" if part.tagged else c.c.tag == "")
    if part.domains is not None:
        where.append(c.c.domain.in_(part.domains))
    if part.not_domains:
        where.append(c.c.domain.not_in(part.not_domains))
    if part.tags is not None:
        where.append(c.c.tag.in_(part.tags))
    if part.not_tags:
        where.append(c.c.tag.not_in(part.not_tags))
    keys: list[ColumnElement[Any]] = [bucket.label("bucket"), c.c.stat]
    keys += [c.c.domain] if part.by_domain else []
    keys += [c.c.tag] if part.by_tag else []
    rows = await conn.execute(select(*keys, func.sum(c.c.count)).where(*where).group_by(*keys))
    found: list[tuple[int, str, str, str, int]] = []
    for row in rows:
        domain = str(row[2]) if part.by_domain else ""
        tag = str(row[-2]) if part.by_tag else ""
        found.append((int(row[0]), domain, tag, str(row[1]), int(row[-1])))
    return found


async def existing_tags(conn: AsyncConnection, domain: str, tags: Sequence[str]) -> set[str]:
    t = schema.tags
    rows = await conn.execute(select(t.c.tag).where(t.c.domain == domain, t.c.tag.in_(tags)))
    return {str(r[0]) for r in rows}


def _tag_order(conn: AsyncConnection) -> ColumnElement[str]:
    # Byte order on both databases, as for suppressions, so a page cursor means one thing.
    tag = schema.tags.c.tag
    return tag.collate("C") if conn.dialect.name == "postgresql" else tag


async def select_tags(
    conn: AsyncConnection,
    *,
    domain: str,
    limit: int,
    after: str | None = None,
    before: str | None = None,
    prefix: str | None = None,
    descending: bool = False,
) -> list[dict[str, Any]]:
    """One page of a domain's tags in tag order: after/before are exclusive tag cursors."""
    t = schema.tags
    order = _tag_order(conn)
    where: list[ColumnElement[bool]] = [t.c.domain == domain]
    if after is not None:
        where.append(order > after)
    if before is not None:
        where.append(order < before)
    if prefix:
        where.append(t.c.tag.startswith(prefix, autoescape=True))
    rows = await conn.execute(
        select(t).where(*where).order_by(order.desc() if descending else order).limit(limit)
    )
    return [dict(r._mapping) for r in rows]


async def get_tag(conn: AsyncConnection, domain: str, tag: str) -> dict[str, Any] | None:
    t = schema.tags
    row = (await conn.execute(select(t).where(t.c.domain == domain, t.c.tag == tag))).first()
    return None if row is None else dict(row._mapping)


async def update_tag(conn: AsyncConnection, domain: str, tag: str, description: str) -> bool:
    t = schema.tags
    result = await conn.execute(
        update(t).where(t.c.domain == domain, t.c.tag == tag).values(description=description)
    )
    return bool(result.rowcount)


async def delete_tag(conn: AsyncConnection, domain: str, tag: str) -> bool:
    """Delete a tag and its counters."""
    t = schema.tags
    # Counters first: the order in which accepts lock them (see upsert.py).
    for c in (schema.stat_counters, schema.test_stat_counters):
        await conn.execute(delete(c).where(c.c.domain == domain, c.c.tag == tag))
    result = await conn.execute(delete(t).where(t.c.domain == domain, t.c.tag == tag))
    return bool(result.rowcount)


_ACCOUNT_TAG_ORDER = {"tag": "tag", "firstseen": "first_seen", "lastseen": "last_seen"}


async def select_account_tags(
    conn: AsyncConnection,
    *,
    prefix: str | None,
    sort: str,
    descending: bool,
    skip: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the tags of every domain, each tag once (earliest first sighting, latest
    last sighting, and the greatest description, so a described
    one wins over an empty one), ordered by ``sort`` (tag, firstseen, lastseen)
    then tag; and how many tags match in all."""
    t = schema.tags
    where = [t.c.tag.startswith(prefix, autoescape=True)] if prefix else []
    merged = (
        select(
            t.c.tag,
            func.max(t.c.description).label("description"),
            func.min(t.c.first_seen).label("first_seen"),
            func.max(t.c.last_seen).label("last_seen"),
        )
        .where(*where)
        .group_by(t.c.tag)
        .subquery()
    )
    tag = merged.c.tag.collate("C") if conn.dialect.name == "postgresql" else merged.c.tag
    column = tag if sort == "tag" else merged.c[_ACCOUNT_TAG_ORDER[sort]]
    order = [column.desc() if descending else column.asc(), tag]
    rows = await conn.execute(select(merged).order_by(*order).offset(skip).limit(limit))
    total = (await conn.execute(select(func.count()).select_from(merged))).scalar_one()
    return [dict(r._mapping) for r in rows], int(total)


async def domains_with_tag(conn: AsyncConnection, tag: str) -> list[str]:
    t = schema.tags
    rows = await conn.execute(select(t.c.domain).where(t.c.tag == tag).order_by(t.c.domain))
    return [str(r[0]) for r in rows]


async def open_times(
    conn: AsyncConnection, domain: str, recipients: Sequence[str], since: float
) -> list[tuple[str, float]]:
    """``(recipient, timestamp)`` of the ``opened`` events of ``recipients`` since ``since``."""
    e = schema.events
    found: list[tuple[str, float]] = []
    for start in range(0, len(recipients), 500):
        rows = await conn.execute(
            select(e.c.recipient, e.c.timestamp).where(
                e.c.domain == domain,
                e.c.event == "opened",
                e.c.timestamp >= since,
                e.c.recipient.in_(recipients[start : start + 500]),
            )
        )
        found.extend((r[0], float(r[1])) for r in rows)
    return found


# -- validation --------------------------------------------------------------------------


async def address_histories(
    conn: AsyncConnection, addresses: Sequence[str]
) -> tuple[dict[str, set[str]], dict[str, dict[str, int]]]:
    """Per address: its bounce/complaint suppressions on any domain, and how many of our
    delivered/opened/clicked events it has."""
    sup = schema.suppressions.c
    kinds: dict[str, set[str]] = {}
    found = await conn.execute(
        select(sup.address, sup.kind)
        .where(sup.address.in_(addresses), sup.kind.in_(("bounces", "complaints")))
        .distinct()
    )
    for address, kind in found:
        kinds.setdefault(address, set()).add(kind)
    ev = schema.events.c
    counts: dict[str, dict[str, int]] = {}
    rows = await conn.execute(
        select(ev.recipient, ev.event, func.count())
        .where(ev.recipient.in_(addresses), ev.event.in_(("delivered", "opened", "clicked")))
        .group_by(ev.recipient, ev.event)
    )
    for recipient, event, count in rows:
        counts.setdefault(recipient, {})[event] = int(count)
    return kinds, counts


async def insert_validation_job(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """False when a job of that kind with that id exists (``ON CONFLICT DO NOTHING``: two
    processes submitting the same id at once get one job and one refusal, not an error)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as lite_insert

    jobs = schema.validation_jobs
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else lite_insert
    statement = dialect_insert(jobs).values(**values)
    done = await conn.execute(
        statement.on_conflict_do_nothing(index_elements=[jobs.c.kind, jobs.c.id])
    )
    return done.rowcount > 0


async def get_validation_job(
    conn: AsyncConnection, kind: str, job_id: str
) -> dict[str, Any] | None:
    jobs = schema.validation_jobs
    row = (await conn.execute(select(jobs).where(jobs.c.kind == kind, jobs.c.id == job_id))).first()
    return None if row is None else dict(row._mapping)


async def list_validation_jobs(
    conn: AsyncConnection, kind: str, *, limit: int, skip: int
) -> tuple[int, list[dict[str, Any]]]:
    jobs = schema.validation_jobs
    total = (
        await conn.execute(select(func.count()).select_from(jobs).where(jobs.c.kind == kind))
    ).scalar_one()
    rows = await conn.execute(
        select(jobs)
        .where(jobs.c.kind == kind)
        .order_by(jobs.c.created_at.desc(), jobs.c.id)
        .limit(limit)
        .offset(skip)
    )
    return int(total), [dict(row._mapping) for row in rows]


async def delete_validation_job(conn: AsyncConnection, kind: str, job_id: str) -> bool:
    jobs = schema.validation_jobs
    done = await conn.execute(delete(jobs).where(jobs.c.kind == kind, jobs.c.id == job_id))
    return done.rowcount > 0


async def claim_validation_job(
    conn: AsyncConnection, kind: str, *, now: float, stale_before: float
) -> dict[str, Any] | None:
    """Take the oldest created job, or one whose worker stopped reporting progress."""
    jobs = schema.validation_jobs
    waiting = (jobs.c.kind == kind) & or_(
        jobs.c.status == "created",
        (jobs.c.status == "processing") & (jobs.c.updated_at < stale_before),
    )
    row = (
        await conn.execute(select(jobs).where(waiting).order_by(jobs.c.created_at).limit(1))
    ).first()
    if row is None:
        return None
    claimed = await conn.execute(
        update(jobs)
        .where(jobs.c.id == row.id, jobs.c.updated_at == row.updated_at, waiting)
        .values(status="processing", updated_at=now, records_processed=0)
    )
    return dict(row._mapping) if claimed.rowcount == 1 else None


async def update_validation_job(
    conn: AsyncConnection,
    kind: str,
    job_id: str,
    values: dict[str, Any],
    *,
    created_at: float | None = None,
) -> bool:
    """False when the job was deleted meanwhile (cancelled). With ``created_at``, only that
    submission of the id is updated: not a new job submitted under the same id since."""
    jobs = schema.validation_jobs
    where = [jobs.c.kind == kind, jobs.c.id == job_id]
    if created_at is not None:
        where.append(jobs.c.created_at == created_at)
    done = await conn.execute(update(jobs).where(*where).values(**values))
    return done.rowcount > 0
