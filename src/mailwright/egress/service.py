"""The egress directory: the configured sources, and pools, domain assignments and warm-ups
stored in the database, with the API's operations on them.

``EgressDirectory.assignments()`` keeps one snapshot of every pool and assignment for a few
seconds, so the delivery hot path reads no table per message (as ``DomainCache`` does); the
API's writes drop the snapshot at once. Warm-up sends are counted in memory and added to the
``ip_warmups`` rows when the snapshot is next loaded, so processes sharing one database see
each other's counts within ``seconds``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
from collections import Counter
from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.egress.records import Assignments, Pool, Source, Warmup, source_named
from mailwright.errors import InvalidInput, NotFound
from mailwright.store import Store, pools

HOUR = 3600.0
DAY = 86400.0


def canonical_ip(text: str, field: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise InvalidInput(f"{field} {text!r} is not an IP address", field=field) from None


def warmup_day(started_at: float, now: float) -> int:
    """Warm-up day of ``now``: whole days since the start, from 0 (``delivery/warmup.py``)."""
    return max(0, int((now - started_at) // DAY))


def warmup_hour(started_at: float, now: float) -> int:
    return max(0, int((now - started_at) // HOUR))


class EgressDirectory:
    def __init__(
        self,
        store: Store,
        sources: tuple[Source, ...],
        clock: Callable[[], float],
        *,
        seconds: float = 5.0,
    ) -> None:
        """``clock`` is wall-clock time: warm-up days are shared between processes."""
        self._store = store
        self.sources = sources
        self._clock = clock
        self._seconds = seconds
        self._snapshot: tuple[float, Assignments] | None = None
        self._loading: asyncio.Lock = asyncio.Lock()
        self._unsaved: Counter[str] = Counter()  # warm-up sends not yet written

    # -- the delivery side --------------------------------------------------------------------

    async def assignments(self) -> Assignments:
        """The current snapshot; loaded (and unsaved warm-up counts written) when it is older
        than ``seconds``. Counts since the last write are already included."""
        found = self._snapshot
        if found is not None and found[0] > self._clock():
            return found[1]
        async with self._loading:
            found = self._snapshot
            if found is not None and found[0] > self._clock():
                return found[1]
            loaded = await self._load()
            self._snapshot = (self._clock() + self._seconds, loaded)
            return loaded

    def count_send(self, ip: str, count: int = 1) -> None:
        """``count`` messages leave from ``ip``; counted against its warm-up day if it is
        warming."""
        snapshot = self._snapshot
        if snapshot is None or ip not in snapshot[1].warmups:
            return
        self._unsaved[ip] += count
        warm = snapshot[1].warmups[ip]
        now = self._clock()
        day, hour = warmup_day(warm.started_at, now), warmup_hour(warm.started_at, now)
        sent, hour_sent = warm.sent_on(day, hour)
        counted = Warmup(ip, warm.started_at, day, sent + count, hour, hour_sent + count)
        warmups = {**snapshot[1].warmups, ip: counted}
        updated = Assignments(
            snapshot[1].pools, snapshot[1].domain_ips, snapshot[1].domain_pools, warmups
        )
        self._snapshot = (snapshot[0], updated)

    def forget(self) -> None:
        self._snapshot = None

    async def _load(self) -> Assignments:
        unsaved, self._unsaved = self._unsaved, Counter()
        now = self._clock()

        if not unsaved:  # nothing to write: no write transaction (SQLite has one writer)
            async with self._store.read() as conn:
                return await _read(conn)

        async def load(conn: AsyncConnection) -> Assignments:
            await self._save_counts(conn, unsaved, now)
            return await _read(conn)

        try:
            return await self._store.write(load)
        except BaseException:
            self._unsaved.update(unsaved)
            raise

    async def _save_counts(self, conn: AsyncConnection, unsaved: Counter[str], now: float) -> None:
        for row in await pools.select_warmups(conn):
            count = unsaved.get(row["ip"], 0)
            if count:
                await pools.count_warmup_sends(
                    conn,
                    row["ip"],
                    count,
                    day=warmup_day(row["started_at"], now),
                    hour=warmup_hour(row["started_at"], now),
                )

    # -- the API side ---------------------------------------------------------------------------

    def source(self, ip: str, field: str = "ip") -> Source:
        found = source_named(self.sources, canonical_ip(ip, field))
        if found is None:
            raise NotFound(f"IP {ip} is not one of this server's egress sources")
        return found

    def check_send_options(self, options: dict[str, object], snapshot: Assignments) -> None:
        """``o:sending-ip`` must be a configured source, ``o:sending-ip-pool`` a stored pool."""
        ip = options.get("sending-ip")
        if isinstance(ip, str) and source_named(self.sources, ip) is None:
            raise InvalidInput(
                f"o:sending-ip {ip} is not one of this server's egress sources",
                field="o:sending-ip",
            )
        pool = options.get("sending-ip-pool")
        if isinstance(pool, str) and pool not in snapshot.pools:
            raise InvalidInput(
                f"o:sending-ip-pool {pool!r} is not a known IP pool", field="o:sending-ip-pool"
            )

    def _known_ips(self, ips: Sequence[str], field: str) -> list[str]:
        found = []
        for ip in ips:
            canonical = canonical_ip(ip, field)
            if source_named(self.sources, canonical) is None:
                raise InvalidInput(
                    f"IP {ip} is not one of this server's egress sources", field=field
                )
            found.append(canonical)
        return sorted(set(found))

    async def list_pools(self) -> list[Pool]:
        async with self._store.read() as conn:
            return [_pool(row) for row in await pools.select_pools(conn)]

    async def get_pool(self, pool_id: str) -> Pool:
        for pool in await self.list_pools():
            if pool.pool_id == pool_id:
                return pool
        raise NotFound("IP pool not found")

    async def create_pool(self, name: str, description: str, ips: Sequence[str]) -> str:
        if not name.strip():
            raise InvalidInput("'name' parameter is missing", field="name")
        members = self._known_ips(ips, "ip")
        pool_id = secrets.token_hex(12)
        row = {
            "pool_id": pool_id,
            "name": name.strip()[:200],
            "description": description,
            "created_at": self._clock(),
        }

        async def create(conn: AsyncConnection) -> None:
            await pools.insert_pool(conn, row, members)

        await self._store.write(create)
        self.forget()
        return pool_id

    async def update_pool(
        self,
        pool_id: str,
        *,
        name: str | None,
        description: str | None,
        add: Sequence[str],
        remove: Sequence[str],
    ) -> None:
        values: dict[str, object] = {}
        if name is not None:
            if not name.strip():
                raise InvalidInput("'name' may not be empty", field="name")
            values["name"] = name.strip()[:200]
        if description is not None:
            values["description"] = description
        adding = self._known_ips(add, "add_ip")
        removing = [canonical_ip(ip, "remove_ip") for ip in remove]

        async def update(conn: AsyncConnection) -> bool:
            if not await pools.update_pool(conn, pool_id, values):
                return False
            await pools.add_pool_ips(conn, pool_id, adding)
            if removing:
                await pools.remove_pool_ips(conn, pool_id, removing)
            return True

        if not await self._store.write(update):
            raise NotFound("IP pool not found")
        self.forget()

    async def delete_pool(self, pool_id: str) -> None:
        async def delete(conn: AsyncConnection) -> bool:
            return await pools.delete_pool(conn, pool_id)

        if not await self._store.write(delete):
            raise NotFound("IP pool not found")
        self.forget()

    async def domain_ips(self, domain: str) -> tuple[list[str], str | None]:
        """The addresses assigned to ``domain`` directly, and its pool's id."""
        async with self._store.read() as conn:
            direct = [ip for d, ip in await pools.select_domain_ips(conn) if d == domain]
            linked = dict(await pools.select_domain_pools(conn)).get(domain)
        return direct, linked

    async def assign(self, domain: str, *, ip: str | None, pool_id: str | None) -> None:
        """Assign an address (``ip``) or a pool (``pool_id``) to ``domain``."""
        if ip:
            [address] = self._known_ips([ip], "ip")

            async def write(conn: AsyncConnection) -> None:
                await pools.assign_ip(conn, domain, address)

        elif pool_id:
            await self.get_pool(pool_id)

            async def write(conn: AsyncConnection) -> None:
                await pools.link_pool(conn, domain, pool_id)

        else:
            raise InvalidInput("'ip' or 'pool_id' parameter is missing", field="ip")
        await self._store.write(write)
        self.forget()

    async def unassign(self, domain: str, ip: str, *, pool_id: str | None = None) -> None:
        """Remove an address from ``domain``; ``ip_pool`` (Mailgun's spelling) unlinks its pool."""
        if ip == "ip_pool":

            async def unlink(conn: AsyncConnection) -> bool:
                return await pools.unlink_pool(conn, domain)

            found = await self._store.write(unlink)
        else:
            address = canonical_ip(ip, "ip")

            async def remove(conn: AsyncConnection) -> bool:
                return await pools.unassign_ip(conn, domain, address)

            found = await self._store.write(remove)
        if not found:
            raise NotFound("IP not assigned to this domain")
        self.forget()

    async def warmups(self) -> dict[str, Warmup]:
        """Every warming address, with this process's sends so far written first."""
        async with self._loading:
            loaded = await self._load()
            self._snapshot = (self._clock() + self._seconds, loaded)
        return dict(loaded.warmups)

    async def start_warmup(self, ip: str) -> None:
        address = self.source(ip).ip

        async def start(conn: AsyncConnection) -> None:
            await pools.start_warmup(conn, address, self._clock())

        await self._store.write(start)
        self.forget()

    async def stop_warmup(self, ip: str) -> None:
        address = self.source(ip).ip

        async def stop(conn: AsyncConnection) -> bool:
            return await pools.stop_warmup(conn, address)

        if not await self._store.write(stop):
            raise NotFound("IP is not in warm-up")
        self.forget()


async def _read(conn: AsyncConnection) -> Assignments:
    stored = {row["pool_id"]: _pool(row) for row in await pools.select_pools(conn)}
    direct: dict[str, list[str]] = {}
    for domain, ip in await pools.select_domain_ips(conn):
        direct.setdefault(domain, []).append(ip)
    return Assignments(
        pools=stored,
        domain_ips={d: tuple(ips) for d, ips in direct.items()},
        domain_pools=dict(await pools.select_domain_pools(conn)),
        warmups={row["ip"]: _warmup(row) for row in await pools.select_warmups(conn)},
    )


def _pool(row: dict[str, object]) -> Pool:
    ips = row["ips"]
    assert isinstance(ips, list)
    return Pool(
        pool_id=str(row["pool_id"]),
        name=str(row["name"]),
        description=str(row["description"]),
        ips=tuple(str(ip) for ip in ips),
    )


def _warmup(row: dict[str, object]) -> Warmup:
    return Warmup(
        ip=str(row["ip"]),
        started_at=float(str(row["started_at"])),
        day=int(str(row["day"])),
        sent=int(str(row["sent"])),
        hour=int(str(row["hour"])),
        hour_sent=int(str(row["hour_sent"])),
    )
