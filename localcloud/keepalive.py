"""HTTP/1.1 keep-alive for the local cloud's two servers (moto's AWS endpoint and the front door).

Werkzeug's development server closes every connection after one response (``run_wsgi`` always
sends ``Connection: close``, then drains the socket), so every AWS call a function makes, and
every API request a client makes, paid for a new TCP connection and a new server thread: a
connect, an accept, a thread start, a close — on the one interpreter every local function
shares, and so billed to the functions running at the same time as duration. AWS's endpoints
keep connections open, and botocore and httpx reuse them.

:class:`KeepAliveHandler` answers a request whose body is delimited by ``Content-Length`` (or
that has none) on a connection the client keeps (HTTP/1.1, no ``Connection: close``): it reads
exactly the body (what the application leaves unread is discarded, so the next request starts
where it should), buffers the response, and writes headers and body in one send with
``Content-Length`` (one segment: no Nagle delay waiting for the client's ACK). Anything else —
a chunked or ``Expect: 100-continue`` upload, HTTP/1.0 — goes through werkzeug's own handling,
which closes. An application error is answered 500 and the connection closed. A connection idle
for :data:`IDLE_SECONDS` is closed by the server; :func:`close_connections` closes a stopped
server's connections at once, so no handler thread outlives its server for long.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

#: How long a kept connection may stay idle before the server closes it.
IDLE_SECONDS = 300.0
_logger = logging.getLogger("localcloud")
_open: dict[int, set[socket.socket]] = {}
_lock = threading.Lock()
#: Response headers this handler sets itself.
_OWN = frozenset({"content-length", "connection", "transfer-encoding"})


class KeepAliveHandler(WSGIRequestHandler):
    timeout = IDLE_SECONDS

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with _lock:
            _open.setdefault(id(self.server), set()).add(self.connection)

    def finish(self) -> None:
        with _lock:
            _open.get(id(self.server), set()).discard(self.connection)
        super().finish()

    def _keeps(self) -> bool:
        headers = self.headers
        return (self.request_version == "HTTP/1.1"
                and "close" not in headers.get("Connection", "").lower()
                and not headers.get("Transfer-Encoding")
                and not headers.get("Expect"))

    def run_wsgi(self) -> None:
        if not self._keeps():
            self.close_connection = True
            super().run_wsgi()
            return
        self.environ = environ = self.make_environ()
        body = LimitedStream(self.rfile, int(self.headers.get("Content-Length") or 0))
        environ["wsgi.input"] = body
        environ["wsgi.input_terminated"] = True
        started: dict[str, Any] = {}
        written: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started["status"], started["headers"] = status, headers
            return written.append

        try:
            result = self.server.app(environ, start_response)
            try:
                written.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            body.exhaust()
        except Exception:
            _logger.exception("error on request %s %s", self.command, self.path)
            self.close_connection = True
            started = {"status": "500 INTERNAL SERVER ERROR", "headers": [("Content-Type", "text/plain")]}
            written = [b"Internal Server Error"]
        payload = b"".join(written)
        code, _, reason = str(started["status"]).partition(" ")
        self.send_response(int(code), reason)
        for name, value in started["headers"]:
            if name.lower() not in _OWN:
                self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(payload)))
        self._headers_buffer.append(b"\r\n")  # end_headers, with the body in the same send
        if self.command != "HEAD":
            self._headers_buffer.append(payload)
        self.flush_headers()


def close_connections(server: BaseWSGIServer) -> None:
    """Close every connection ``server`` still holds open (it is being stopped)."""
    with _lock:
        connections = _open.pop(id(server), set())
    for connection in connections:
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
