"""Delivery worker processes beside the HTTP server, so delivering has a core of its own.

``serve`` with both the api and worker roles starts ``MAILWRIGHT_WORKER_PROCESSES`` children
running ``serve --role worker``. They share the queue through the database as any workers do
(claims with leases; SKIP LOCKED on PostgreSQL). A pipe per child carries "a message was
accepted" from the server, so new mail is claimed at once rather than at the next poll; a
child whose pipe reaches end-of-file (the server is gone) stops. A child that dies is started
again after a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping

from mailwright.config import BY_NAME
from mailwright.logs import get_logger

log = get_logger(__name__)

RESTART_PAUSE = 1.0
STOP_GRACE = 35.0  # a child finishes its in-flight attempts (up to 30 s) before it exits


class WorkerProcesses:
    def __init__(self, count: int, overrides: Mapping[str, str]) -> None:
        self._count = count
        # Children inherit the environment; settings given as --flags are passed on as such.
        self._flags = [
            part for name, value in overrides.items() for part in (BY_NAME[name].flag, value)
        ]
        self._pipes: dict[int, int] = {}  # child index -> write end of its kick pipe
        self._procs: dict[int, asyncio.subprocess.Process] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

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
                    *self._flags,
                    pass_fds=(read_end,),
                )
            finally:
                os.close(read_end)
            self._procs[index] = proc
            self._pipes[index] = write_end
            if not started.done():
                started.set_result(None)
            log.info("worker_process_started", pid=proc.pid, index=index)
            code = await proc.wait()
            del self._pipes[index]
            os.close(write_end)
            if self._stopping:
                return
            log.error("worker_process_exited", pid=proc.pid, index=index, code=code)
            await asyncio.sleep(RESTART_PAUSE)
