"""A real DNS server on loopback that serves zone text (KumoMTA's zone-text habit).

    with LoopbackDNS('example.com. 300 IN MX 10 mx.example.com.') as dns:
        resolver = Resolver(dns.address, timeout=1.0)
        dns.add('example.com. 300 IN TXT "v=spf1 -all"')

UDP and TCP listen on the same port. Unknown names get NXDOMAIN, known names without the asked
type (and empty non-terminals) get NOERROR with no answer, a CNAME is followed inside the zone,
and names passed to ``fail`` get SERVFAIL (until ``recover``). UDP replies larger than the
client's EDNS payload (512 without EDNS) are truncated with TC set, so clients must retry over
TCP. TXT strings longer than 255 bytes are split into 255-byte character-strings. ``queries``
records ``(name, type, protocol)`` for every question asked.
"""

from __future__ import annotations

import re
import threading
from types import TracebackType
from typing import Any

from dnslib import QTYPE, RCODE, RR, DNSLabel, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSServer

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ZONE_CHAR = re.compile(r"\\\d{3}|\\.|[^\\]", re.DOTALL)
_MAX_CNAME_CHAIN = 8
_PLAIN_DNS_UDP = 512


def split_long_strings(zone_text: str) -> str:
    """Split quoted strings over 255 characters into several quoted strings (RFC 1035 3.3)."""

    def split(match: re.Match[str]) -> str:
        chars = _ZONE_CHAR.findall(match.group(1))
        chunks = ["".join(chars[i : i + 255]) for i in range(0, len(chars), 255)] or [""]
        return " ".join(f'"{chunk}"' for chunk in chunks)

    return _QUOTED.sub(split, zone_text)


class _QuietLogger:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class _ZoneResolver(BaseResolver):  # type: ignore[misc]
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: list[Any] = []
        self.failing: set[DNSLabel] = set()
        self.queries: list[tuple[str, str, str]] = []

    def resolve(self, request: Any, handler: Any) -> Any:
        qname, qtype = request.q.qname, request.q.qtype
        with self.lock:
            self.queries.append((str(qname).rstrip("."), QTYPE[qtype], handler.protocol))
            records, failing = list(self.records), set(self.failing)
        reply = request.reply()
        if qname in failing:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        for rr in _answers(records, qname, qtype):
            reply.add_answer(rr)
        if not reply.rr and not any(rr.rname.matchSuffix(qname) for rr in records):
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


def _answers(records: list[Any], qname: Any, qtype: int) -> list[Any]:
    answers: list[Any] = []
    for _ in range(_MAX_CNAME_CHAIN):
        here = [rr for rr in records if rr.rname == qname]
        wanted = [rr for rr in here if rr.rtype == qtype or qtype == QTYPE.ANY]
        cnames = [rr for rr in here if rr.rtype == QTYPE.CNAME]
        if wanted or not cnames:
            return answers + wanted
        answers.append(cnames[0])
        qname = cnames[0].rdata.label
    return answers


class _Handler(DNSHandler):  # type: ignore[misc]
    """Honours the client's EDNS payload size; a truncated reply keeps its question."""

    def get_reply(self, data: bytes) -> bytes:
        request = DNSRecord.parse(data)
        reply = self.server.resolver.resolve(request, self)
        packed: bytes = reply.pack()
        if self.protocol == "udp" and len(packed) > _udp_limit(request):
            truncated = request.reply()
            truncated.header.tc = 1
            truncated.header.rcode = reply.header.rcode
            packed = truncated.pack()
        return packed


def _udp_limit(request: Any) -> int:
    opts = [rr for rr in request.ar if rr.rtype == QTYPE.OPT]
    return max(_PLAIN_DNS_UDP, opts[0].rclass) if opts else _PLAIN_DNS_UDP


class LoopbackDNS:
    def __init__(self, zone_text: str = "") -> None:
        self._host = "127.0.0.1"
        self._resolver = _ZoneResolver()
        self._servers: list[Any] = []
        self._threads: list[threading.Thread] = []
        self.set_zone(zone_text)
        self.port = 0

    @property
    def address(self) -> tuple[str, int]:
        return (self._host, self.port)

    @property
    def nameserver(self) -> str:
        return f"{self._host}:{self.port}"

    @property
    def queries(self) -> list[tuple[str, str, str]]:
        with self._resolver.lock:
            return list(self._resolver.queries)

    def set_zone(self, zone_text: str) -> None:
        records = RR.fromZone(split_long_strings(zone_text))
        with self._resolver.lock:
            self._resolver.records = records

    def add(self, zone_line: str) -> None:
        records = RR.fromZone(split_long_strings(zone_line))
        with self._resolver.lock:
            self._resolver.records = [*self._resolver.records, *records]

    def fail(self, name: str) -> None:
        with self._resolver.lock:
            self._resolver.failing.add(DNSLabel(name))

    def recover(self, name: str) -> None:
        """Undo ``fail``: the name is answered from the zone again."""
        with self._resolver.lock:
            self._resolver.failing.discard(DNSLabel(name))

    def start(self) -> None:
        for _ in range(20):
            udp = self._server(0, tcp=False)
            self.port = udp.server.server_address[1]
            try:
                tcp = self._server(self.port, tcp=True)
            except OSError:
                udp.server.server_close()
                continue
            self._servers = [udp, tcp]
            break
        else:
            raise RuntimeError("no port free for both UDP and TCP")
        for server in self._servers:
            thread = threading.Thread(
                target=server.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _server(self, port: int, *, tcp: bool) -> Any:
        return DNSServer(
            self._resolver,
            address=self._host,
            port=port,
            tcp=tcp,
            logger=_QuietLogger(),
            handler=_Handler,
        )

    def stop(self) -> None:
        for server in self._servers:
            server.server.shutdown()
            server.server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> LoopbackDNS:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
