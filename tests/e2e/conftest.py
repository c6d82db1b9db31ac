"""End-to-end tier: a real `python -m localcloud serve` (what `make up` runs) on a free port,
used only through its HTTP API — as a webshop, a warehouse or an agent would."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
READY = "OMS local stack ready"
KEYS = {
    "webshop": "local-webshop-key", "marketplace": "local-marketplace-key", "dc": "local-dc-key",
    "store": "local-store-key", "agent": "local-agent-key", "finance": "local-finance-key",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def stack() -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "OMS_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "localcloud", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    log: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line)
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 300
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail("local stack exited before it was ready:\n" + "".join(log[-60:]))
            if time.monotonic() > deadline:
                pytest.fail("local stack not ready within 300 s:\n" + "".join(log[-60:]))
            try:
                if READY in lines.get(timeout=1):
                    break
            except queue.Empty:
                continue
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def http(stack: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def local_info(http: httpx.Client) -> dict[str, Any]:
    info: dict[str, Any] = http.get("/_local/info").json()
    return info


@pytest.fixture(scope="session")
def aws(local_info: dict[str, Any]) -> Any:
    """A boto3 factory pointed at the local cloud, as any AWS client would be."""
    import boto3

    def make(service: str) -> Any:
        return boto3.client(service, endpoint_url=local_info["aws_endpoint_url"], region_name=local_info["region"],
                            aws_access_key_id="local", aws_secret_access_key="local")

    return make
