"""The one launcher of the local stack: ``python -m localcloud serve`` (what ``make up`` runs) as a
subprocess on a free port, for the demo, the bench and the e2e tier.

    with LocalStack() as stack:          # returns once the stack printed its ready line
        httpx.get(f"{stack.url}/health")

``start()`` raises ``StackNotReady`` (with the tail of the stack's log) if the process exits before
it is ready or is not ready in time; it stops the process itself then. ``stop()`` sends SIGTERM (the
stack shuts its embedded cloud down), and kills the process if it has not exited after a while.
"""

from __future__ import annotations

import collections
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[1]
READY = "OMS local stack ready"  # what `python -m localcloud serve` prints once it serves
#: A first boot synthesizes the template and deploys it into moto: about a minute on a busy 2-core
#: machine, more when another stack boots beside it.
READY_TIMEOUT = 300.0
STOP_TIMEOUT = 20.0
LOG_LINES = 2000  # kept for the tail: the stack logs every invocation, a long session would grow without bound


class StackNotReady(RuntimeError):
    """The stack exited before it printed its ready line, or did not print it in time."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _is_metric(line: str) -> bool:
    return line.startswith('{"_aws"')  # a Powertools EMF line: noise in a log tail


#: Variables the deployed functions get from the template and a caller's shell must not supply.
FUNCTION_SETTINGS = ("POWERTOOLS_",)


class LocalStack:
    """``python -m localcloud serve --port P`` as a subprocess; ``url`` once started."""

    def __init__(self, port: int = 0, *, ready_timeout: float = READY_TIMEOUT) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen[str] | None = None
        self.log: collections.deque[str] = collections.deque(maxlen=LOG_LINES)  # without the metric lines
        #: each function's unhandled error with its traceback (the runtime logs them), the first 50
        self.errors: list[str] = []

    def start(self, timeout: float | None = None) -> str:
        """Start the stack and wait for its ready line; its base URL."""
        timeout = self.ready_timeout if timeout is None else timeout
        # The stack gets the shell a user types `make up` in: the functions' own settings (Powertools'
        # service, namespace, …) come from the template only, never from the caller (a test run sets them).
        env = {k: v for k, v in os.environ.items() if not k.startswith(FUNCTION_SETTINGS)}
        env.update({"OMS_PORT": str(self.port), "PYTHONUNBUFFERED": "1"})
        self.proc = proc = subprocess.Popen(
            [sys.executable, "-m", "localcloud", "serve", "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: queue.Queue[str] = queue.Queue()
        ready = threading.Event()

        def pump() -> None:  # drains the pipe for the stack's whole life, or it would block on a full pipe
            assert proc.stdout is not None
            for line in proc.stdout:
                if not _is_metric(line):
                    self.log.append(line)
                    if ": unhandled " in line and len(self.errors) < 50:
                        self.errors.append(line)
                    elif self.errors and (line.startswith(("Traceback", "  ")) or "Error" in line[:80]):
                        self.errors[-1] += line
                if not ready.is_set():
                    lines.put(line)

        threading.Thread(target=pump, name=f"localstack-{self.port}-log", daemon=True).start()
        deadline = time.monotonic() + timeout
        try:
            while True:
                if proc.poll() is not None:
                    raise StackNotReady("local stack exited before it was ready:\n" + self.tail(60))
                if time.monotonic() > deadline:
                    raise StackNotReady(f"local stack not ready within {timeout:.0f} s:\n" + self.tail(60))
                try:
                    if READY in lines.get(timeout=1):
                        ready.set()
                        return self.url
                except queue.Empty:
                    continue
        except BaseException:
            self.stop()
            raise

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n: int = 40) -> str:
        """The last ``n`` lines of the stack's output, without its metric (EMF) lines."""
        return "".join(list(self.log)[-n:])

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM (the stack shuts down its embedded cloud), then SIGKILL after ``timeout`` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> LocalStack:
        if not self.running:
            self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
