"""HTTP/1.1 keep-alive on the local cloud's servers (localcloud.keepalive): a kept connection
answers request after request, whatever the application leaves unread, and botocore's calls
to moto reuse their connections instead of opening one per call."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from localcloud.keepalive import KeepAliveHandler, close_connections


class _Counting:
    """Counts the connections the server accepted."""

    def __init__(self, server: BaseWSGIServer) -> None:
        self.accepted = 0
        original = server.get_request

        def get_request() -> tuple[socket.socket, Any]:
            self.accepted += 1
            return original()

        server.get_request = get_request  # type: ignore[method-assign]


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise RuntimeError("the application failed")
    if path == "/echo":  # reads its body; the others leave it unread
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"echo:", body]
    start_response("201 CREATED", [("Content-Type", "text/plain"), ("Connection", "close")])
    return [b"created ", path.encode()]


@pytest.fixture
def served() -> Iterator[tuple[BaseWSGIServer, _Counting]]:
    server = make_server("127.0.0.1", 0, _app, threaded=True, request_handler=KeepAliveHandler)
    counting = _Counting(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, counting
    server.shutdown()
    server.server_close()
    close_connections(server)
    thread.join(5)


def test_one_connection_answers_request_after_request_whatever_the_application_leaves_unread(
        served: tuple[BaseWSGIServer, _Counting]) -> None:
    server, counting = served
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    answers = []
    for n in range(3):
        connection.request("POST", "/echo", body=b"x" * n)
        response = connection.getresponse()
        answers.append((response.status, response.read(), response.getheader("Connection")))
        connection.request("POST", f"/ignored-{n}", body=b"unread body " * 100)  # its body never read
        response = connection.getresponse()
        answers.append((response.status, response.read(), response.getheader("Connection")))
    assert answers == [a for n in range(3) for a in (
        (200, b"echo:" + b"x" * n, None), (201, f"created /ignored-{n}".encode(), None))]
    assert counting.accepted == 1
    connection.close()


def test_a_client_that_asks_to_close_and_a_failing_application_get_a_closed_connection(
        served: tuple[BaseWSGIServer, _Counting]) -> None:
    server, _ = served
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    connection.request("GET", "/echo", headers={"Connection": "close"})
    response = connection.getresponse()
    assert (response.status, response.read(), response.getheader("Connection")) == (200, b"echo:", "close")
    connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    connection.request("GET", "/boom")
    response = connection.getresponse()
    assert (response.status, response.getheader("Connection")) == (500, "close")
    assert b"the application failed" not in response.read()
    connection.close()


def test_botocore_reuses_its_connections_to_moto() -> None:
    server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app), threaded=True,
                         request_handler=KeepAliveHandler)
    counting = _Counting(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        db = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
                          region_name="eu-central-1", aws_access_key_id="k", aws_secret_access_key="s")
        db.create_table(TableName="kept", KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")
        for n in range(20):
            db.put_item(TableName="kept", Item={"PK": {"S": f"k{n}"}, "v": {"S": "v" * n}})
        assert db.get_item(TableName="kept", Key={"PK": {"S": "k7"}})["Item"]["v"] == {"S": "vvvvvvv"}
        assert counting.accepted == 1  # 22 calls, one connection
    finally:
        server.shutdown()
        server.server_close()
        close_connections(server)
        thread.join(5)


def test_a_stopped_server_closes_the_connections_it_kept(served: tuple[BaseWSGIServer, _Counting]) -> None:
    server, _ = served
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    connection.request("GET", "/echo")
    assert connection.getresponse().read() == b"echo:"
    assert connection.sock is not None
    # When the server stops, its idle kept connection is closed at once (not after 300 s idle)
    server.shutdown()
    close_connections(server)
    connection.sock.settimeout(2)
    assert connection.sock.recv(1) == b""
    connection.close()
