"""The local cloud as servers: moto (AWS endpoint) and the front door (the API), in this process.

:class:`LocalCloud` is the reusable handle (tests, benchmarks, ``python -m localcloud serve``):
it starts moto's server on a free port in a thread, points this process's AWS SDK settings at
it (handlers run in this process and call it like AWS), deploys a stack and starts the front
door. Both servers are threaded: a handler calls back into moto while its own request is open.
``stop()`` leaves the process as it found it: no pollers, an empty moto, the environment back.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

import localcloud
from localcloud import clock, faults, fill, meter, outbox, schedules  # noqa: F401 - outbox registers /_local/outbox and /_local/mail, clock /_local/clock, fill /_local/fill
from localcloud.deploy import Deployment, deploy_assembly, deploy_template
from localcloud.frontdoor import FrontDoor
from localcloud.keepalive import KeepAliveHandler, close_connections
from localcloud.patches import event_source_pollers, lambda_runtime

meter.register_routes()
faults.register_routes()

HOST = "127.0.0.1"


def _environment(endpoint_url: str, port: int) -> dict[str, str]:
    return {
        "MOTO_PORT": str(port),  # the Step Functions interpreter's own clients use localhost:$MOTO_PORT
        "AWS_ENDPOINT_URL": endpoint_url,  # handlers' boto3 clients
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": localcloud.REGION,
        "AWS_REGION": localcloud.REGION,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",  # botocore 1.44 account endpoints moto does not route
    }


class _Thread:
    def __init__(self, server: BaseWSGIServer, name: str) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        close_connections(self.server)
        self.thread.join()


class LocalCloud:
    """moto server + deployed stack + front door; use as a context manager."""

    def __init__(
        self,
        assembly: Path | None = None,
        template: dict[str, Any] | None = None,
        stack_name: str = "Oms-local",
        port: int = 0,
        ready: bool = True,
    ) -> None:
        if (assembly is None) == (template is None):
            raise ValueError("give exactly one of assembly and template")
        self._assembly, self._template, self.stack_name, self._port = assembly, template, stack_name, port
        self._moto: _Thread | None = None
        self._door: _Thread | None = None
        self._saved_env: dict[str, str | None] = {}
        self.deployment: Deployment | None = None
        #: False: the front door answers 503 until ``mark_ready()`` (``serve`` seeds first).
        self._ready = ready

    @property
    def endpoint_url(self) -> str:
        assert self._moto is not None, "not started"
        return self._moto.url

    @property
    def frontdoor_url(self) -> str:
        assert self._door is not None, "not started"
        return self._door.url

    def start(self) -> LocalCloud:
        localcloud.install()
        meter.install()
        faults.install()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        moto_app = DomainDispatcherApplication(create_backend_app)
        self._moto = _Thread(make_server(HOST, 0, moto_app, threaded=True, request_handler=KeepAliveHandler),
                             "moto")
        for key, value in _environment(self._moto.url, self._moto.server.server_address[1]).items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        try:
            self.deployment = self._deploy()
            schedules.start()  # the deployed schedules fire on the local time scale
            door = FrontDoor(self.deployment, self._moto.url, ready=self._ready)
            self._door = _Thread(make_server(HOST, self._port, door, threaded=True,
                                             request_handler=KeepAliveHandler), "frontdoor")
        except BaseException:
            self.stop()
            raise
        return self

    def _deploy(self) -> Deployment:
        if self._assembly is not None:
            return deploy_assembly(self._assembly, self.stack_name)
        assert self._template is not None
        return deploy_template(self._template, self.stack_name)

    def settle(self, timeout: float = 10.0) -> None:
        localcloud.settle(timeout)

    def _reset_moto(self) -> None:
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def reset(self) -> Deployment:
        """Empty every moto backend and deploy the stack again (~0.3 s)."""
        faults.clear()
        schedules.stop()
        self._reset_moto()
        self.deployment = self._deploy()
        schedules.start()
        assert self._door is not None
        self._door.server.app = FrontDoor(self.deployment, self.endpoint_url, ready=self._ready)
        return self.deployment

    def mark_ready(self) -> None:
        """The stack can serve every route now: the front door stops answering 503."""
        self._ready = True
        if self._door is not None:
            self._door.server.app.ready.set()

    def stop(self, settle_timeout: float = 2.0) -> None:
        """Let in-flight work finish (best effort, up to ``settle_timeout``), stop and join the
        event source pollers, empty moto (its mappings, running executions' state), put back the
        environment the functions and this cloud changed, and shut both servers."""
        if self._moto is not None:
            with contextlib.suppress(TimeoutError):
                localcloud.settle(settle_timeout)
        schedules.stop()
        # the use cases' clock back to real time (POST /_local/clock moved it)
        clock.reset(self._door.server.app if self._door is not None else None)
        event_source_pollers.stop_all()
        if self._moto is not None:
            try:
                self._reset_moto()
            except OSError as exc:
                logging.getLogger("localcloud").warning("moto reset on stop failed: %s", exc)
        lambda_runtime.restore_environment()
        for server in (self._door, self._moto):
            if server is not None:
                server.stop()
        self._door = self._moto = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def info(url: str) -> dict[str, Any]:
    """``GET /_local/info`` of a running front door."""
    with urllib.request.urlopen(f"{url}/_local/info", timeout=5) as response:
        return dict(json.loads(response.read()))
