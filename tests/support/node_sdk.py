"""Calls through the official Mailgun Node SDK (mailgun.js, pinned in ``tests/node``).

``NodeSDK(url, key).run(call(...), ...)`` sends the calls to ``tests/node/call.js`` in one Node
process and one SDK client, in order, and returns one ``Outcome`` per call. ``Buffer`` and
``Date`` arguments are written as ``node_buffer(b"...")`` and ``node_date(datetime)``.
``make test`` installs the SDK (``scripts/install-node-sdk``); without it these tests fail and say
so.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
BRIDGE = NODE_DIR / "call.js"
TIMEOUT = 60.0


def call(method: str, *args: Any) -> dict[str, Any]:
    """One SDK call: ``call("messages.create", domain, data)``."""
    return {"method": method, "args": list(args)}


def node_buffer(data: bytes) -> dict[str, str]:
    return {"$buffer": base64.b64encode(data).decode()}


def node_date(moment: datetime) -> dict[str, str]:
    return {"$date": moment.isoformat()}


@dataclass(frozen=True)
class Outcome:
    """What one SDK call gave: its result, or the SDK's error (status and message)."""

    ok: bool
    result: Any = None
    status: int | None = None
    message: str = ""
    details: Any = None

    def value(self) -> Any:
        assert self.ok, f"the SDK call failed: {self.status} {self.message} {self.details}"
        return self.result


class NodeSDK:
    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key

    def run(self, *calls: dict[str, Any]) -> list[Outcome]:
        node = shutil.which("node")
        assert node, "node is not installed: run `make node-sdk`"
        assert (NODE_DIR / "node_modules" / "mailgun.js").is_dir(), (
            "mailgun.js is not installed in tests/node: run `make node-sdk`"
        )
        payload = json.dumps({"url": self.url, "key": self.key, "calls": list(calls)})
        done = subprocess.run(
            [node, str(BRIDGE)],
            input=payload,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            cwd=NODE_DIR,
            check=False,
        )
        assert done.returncode == 0, f"node exited with {done.returncode}\n{done.stderr}"
        return [Outcome(**item) for item in json.loads(done.stdout)]

    def one(self, method: str, *args: Any) -> Any:
        """One call that must succeed; its result."""
        [outcome] = self.run(call(method, *args))
        return outcome.value()
