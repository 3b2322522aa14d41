"""Which egress source a message leaves from (pure).

Eligible sources, first rule that yields any configured source wins:
  1. the message's ``o:sending-ip``;
  2. the message's ``o:sending-ip-pool``;
  3. the sending domain's assigned addresses together with its pool's;
  4. every configured source.
Among the eligible, ``pick`` skips addresses whose warm-up allowance for today is used up and
takes the least loaded (fewest sessions in progress), ties broken round-robin by ``turn``.
When every eligible address is used up, mail spills to the other configured sources that still
have allowance, warm (unlimited) ones first; when none has any, ``pick`` says None and the
delivery waits for the next day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mailwright.egress.records import Assignments


def eligible(
    sources: Sequence[str],
    assignments: Assignments,
    *,
    domain: str,
    sending_ip: str | None = None,
    sending_pool: str | None = None,
) -> tuple[str, ...]:
    known = set(sources)

    def configured(ips: Sequence[str]) -> tuple[str, ...]:
        return tuple(ip for ip in sources if ip in set(ips) and ip in known)

    if sending_ip is not None and configured([sending_ip]):
        return configured([sending_ip])
    pool = assignments.pools.get(sending_pool) if sending_pool is not None else None
    if pool is not None and configured(pool.ips):
        return configured(pool.ips)
    mine = list(assignments.domain_ips.get(domain, ()))
    linked = assignments.pools.get(assignments.domain_pools.get(domain, ""))
    if linked is not None:
        mine.extend(linked.ips)
    return configured(mine) or tuple(sources)


def pick(
    candidates: Sequence[str],
    sources: Sequence[str],
    *,
    load: Mapping[str, int],
    allowance: Mapping[str, int],
    turn: int,
) -> str | None:
    """``allowance`` holds warming addresses only (absent: warm, unlimited)."""
    has_room = [ip for ip in candidates if allowance.get(ip, 1) > 0]
    if not has_room:
        spill = [ip for ip in sources if allowance.get(ip, 1) > 0]
        warm = [ip for ip in spill if ip not in allowance]
        has_room = warm or spill
    if not has_room:
        return None
    least = min(load.get(ip, 0) for ip in has_room)
    tied = [ip for ip in has_room if load.get(ip, 0) == least]
    return tied[turn % len(tied)]
