"""``serve`` delivers from a worker process of its own, which follows the server's lifetime."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import Server, StartServer
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped) is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _delivered(server: Server, message_id: str) -> Callable[[], Awaitable[list[dict]]]:
    async def probe() -> list[dict]:
        return _delivered_now(server, message_id)

    return probe


def _gone(pid: int) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return not _alive(pid)

    return probe


def _delivered_now(server: Server, message_id: str) -> list[dict]:
    with server.http() as http:
        events = http.get(f"/v3/{server.sandbox}/events", params={"event": "delivered"}).json()
    return [e for e in events["items"] if e["message"]["headers"]["message-id"] == message_id]


async def test_worker_child_delivers_and_stops_with_the_server(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server(MAILWRIGHT_RETRY_SCHEDULE="1s")
    workers = [p for p in _children(server.process.pid) if "--kick-fd" in _cmdline(p)]
    assert len(workers) == 1, [_cmdline(p) for p in _children(server.process.pid)]
    args = _cmdline(workers[0])
    assert args[args.index("serve") :][:3] == ["serve", "--role", "worker"], args

    started = time.monotonic()
    with server.http() as http:
        sent = http.post(
            f"/v3/{server.sandbox}/messages",
            data={"from": f"a@{server.sandbox}", "to": "b@example.com", "text": "hi"},
        )
    assert sent.status_code == 200, sent.text
    message_id = sent.json()["id"].strip("<>")
    await wait_until(_delivered(server, message_id))
    # Woken through the pipe, not by the 1 s poll: well under a poll interval.
    assert time.monotonic() - started < 5

    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=40) == 0
    await wait_until(_gone(workers[0]))
    logs = [json.loads(line) for line in server.stderr_path.read_text().splitlines() if line]
    assert any(entry["event"] == "worker_process_started" for entry in logs)


async def test_worker_child_killed_is_started_again(start_server: StartServer) -> None:
    server = start_server()
    first = [p for p in _children(server.process.pid) if "--kick-fd" in _cmdline(p)]
    assert len(first) == 1
    os.kill(first[0], signal.SIGKILL)

    async def replaced() -> list[int]:
        now = [p for p in _children(server.process.pid) if "--kick-fd" in _cmdline(p)]
        return [p for p in now if p != first[0] and _alive(p)]

    assert await wait_until(replaced)
    with server.http() as http:
        sent = http.post(
            f"/v3/{server.sandbox}/messages",
            data={"from": f"a@{server.sandbox}", "to": "c@example.com", "text": "again"},
        )
    message_id = sent.json()["id"].strip("<>")
    await wait_until(_delivered(server, message_id))


async def test_no_worker_child_when_set_to_zero(start_server: StartServer) -> None:
    server = start_server(MAILWRIGHT_WORKER_PROCESSES="0")
    assert not [p for p in _children(server.process.pid) if "--kick-fd" in _cmdline(p)]
    with server.http() as http:
        sent = http.post(
            f"/v3/{server.sandbox}/messages",
            data={"from": f"a@{server.sandbox}", "to": "d@example.com", "text": "in process"},
        )
    message_id = sent.json()["id"].strip("<>")
    await wait_until(_delivered(server, message_id))


async def test_the_server_counts_the_attempts_of_its_worker_children(
    start_server: StartServer,
) -> None:
    server = start_server()
    with server.http() as http:
        for n in range(3):
            sent = http.post(
                f"/v3/{server.sandbox}/messages",
                data={"from": f"a@{server.sandbox}", "to": f"b{n}@example.com", "text": "hi"},
            )
            assert sent.status_code == 200, sent.text
    line = 'mailwright_delivery_attempts_total{outcome="delivered",reply_class="2xx"} 3.0'

    async def counted() -> bool:
        with server.http() as http:
            return line in http.get("/metrics").text.splitlines()

    await wait_until(counted)
    # A child that dies keeps its counts; its replacement adds to them.
    [child] = [p for p in _children(server.process.pid) if "--kick-fd" in _cmdline(p)]
    os.kill(child, signal.SIGKILL)

    async def replaced() -> bool:
        found = [p for p in _children(server.process.pid) if "--kick-fd" in _cmdline(p)]
        return bool(found) and found != [child]

    await wait_until(replaced)
    with server.http() as http:
        assert line in http.get("/metrics").text.splitlines()
