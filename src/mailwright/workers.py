"""Delivery worker processes beside the HTTP server, so delivering has a core of its own.

``serve`` with both the api and worker roles starts ``MAILWRIGHT_WORKER_PROCESSES`` children
running ``serve --role worker``. They share the queue through the database as any workers do
(claims with leases; SKIP LOCKED on PostgreSQL). A pipe per child carries "a message was
accepted" from the server, so new mail is claimed at once rather than at the next poll; a
child whose pipe reaches end-of-file (the server is gone) stops. A child that dies is started
again after a pause.

A second pipe per child carries the other way, about once a second, the child's delivery
attempts so far (a JSON line of ``[outcome, reply class, count]``), so the server's
``/metrics`` counts the attempts of every child; a child that exits keeps its counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import Mapping

from mailwright.config import BY_NAME
from mailwright.logs import get_logger

log = get_logger(__name__)

RESTART_PAUSE = 1.0
STOP_GRACE = 35.0  # a child finishes its in-flight attempts (up to 30 s) before it exits


class WorkerProcesses:
    def __init__(self, count: int, overrides: Mapping[str, str], node_name: str = "") -> None:
        self._count = count
        # Children inherit the environment; settings given as --flags are passed on as such.
        self._flags = [
            part for name, value in overrides.items() for part in (BY_NAME[name].flag, value)
        ]
        self._node_name = node_name
        self._pipes: dict[int, int] = {}  # child index -> write end of its kick pipe
        self._procs: dict[int, asyncio.subprocess.Process] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._reported: dict[int, Counter[tuple[str, str]]] = {}  # a running child's attempts
        self._exited: Counter[tuple[str, str]] = Counter()  # attempts of children gone

    def attempts(self) -> Counter[tuple[str, str]]:
        """Delivery attempts by (outcome, reply class) of every child since the server began."""
        total = Counter(self._exited)
        for counts in self._reported.values():
            total.update(counts)
        return total

    async def start(self) -> None:
        started = [asyncio.get_running_loop().create_future() for _ in range(self._count)]
        self._tasks = [
            asyncio.create_task(self._supervise(i, started[i])) for i in range(self._count)
        ]
        await asyncio.gather(*started)

    def kick(self) -> None:
        """Wake every child's worker; a full pipe already holds a wake-up, so none is lost."""
        for fd in self._pipes.values():
            with contextlib.suppress(BlockingIOError, BrokenPipeError):
                os.write(fd, b"k")

    async def stop(self) -> None:
        self._stopping = True
        for proc in self._procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for task in self._tasks:
            try:
                await asyncio.wait_for(asyncio.shield(task), STOP_GRACE)
            except TimeoutError:
                for proc in self._procs.values():
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                await task

    async def _supervise(self, index: int, started: asyncio.Future[None]) -> None:
        while not self._stopping:
            read_end, write_end = os.pipe()
            os.set_blocking(write_end, False)
            report_read, report_write = os.pipe()
            try:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "mailwright",
                    "serve",
                    "--role",
                    "worker",
                    "--kick-fd",
                    str(read_end),
                    "--report-fd",
                    str(report_write),
                    *self._flags,
                    *child_node_flags(self._node_name, index, self._count),
                    pass_fds=(read_end, report_write),
                )
            except BaseException:
                os.close(report_read)
                raise
            finally:
                os.close(read_end)
                os.close(report_write)
            self._procs[index] = proc
            self._pipes[index] = write_end
            self._follow_reports(index, report_read)
            if not started.done():
                started.set_result(None)
            log.info("worker_process_started", pid=proc.pid, index=index)
            code = await proc.wait()
            del self._pipes[index]
            os.close(write_end)
            self._end_reports(index, report_read)
            if self._stopping:
                return
            log.error("worker_process_exited", pid=proc.pid, index=index, code=code)
            await asyncio.sleep(RESTART_PAUSE)

    def _follow_reports(self, index: int, fd: int) -> None:
        os.set_blocking(fd, False)
        pending = bytearray()
        self._reported[index] = Counter()

        def readable() -> None:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            if not data:
                asyncio.get_running_loop().remove_reader(fd)
                return
            pending.extend(data)
            *lines, rest = pending.split(b"\n")
            pending[:] = rest
            if lines:
                self._reported[index] = _parse_report(bytes(lines[-1]))

        asyncio.get_running_loop().add_reader(fd, readable)

    def _end_reports(self, index: int, fd: int) -> None:
        """The child exited: read what it wrote last, and keep its counts."""
        loop = asyncio.get_running_loop()
        loop.remove_reader(fd)
        with contextlib.suppress(BlockingIOError):
            last = os.read(fd, 1 << 20).split(b"\n")
            complete = [line for line in last[:-1] if line]
            if complete:
                self._reported[index] = _parse_report(complete[-1])
        os.close(fd)
        self._exited.update(self._reported.pop(index, Counter()))


def child_node_flags(node_name: str, index: int, count: int) -> list[str]:
    """Several children on one host each record their uptime under a name of their own
    (``mail-1/worker-2``); a single child shares the server's name (it runs another role)."""
    if count < 2 or not node_name:
        return []
    return [BY_NAME["node_name"].flag, f"{node_name}/worker-{index + 1}"]


def report_line(attempts: Mapping[tuple[str, str], int]) -> bytes:
    """What a child writes: its attempts so far, one JSON line."""
    return json.dumps([[*key, count] for key, count in sorted(attempts.items())]).encode() + b"\n"


def _parse_report(line: bytes) -> Counter[tuple[str, str]]:
    try:
        items = json.loads(line)
        return Counter({(str(o), str(c)): int(n) for o, c, n in items})
    except (ValueError, TypeError):
        log.warning("worker_report_unreadable", size=len(line))
        return Counter()
