"""Two API functions serving at once in the local cloud's one process each see their own request
(localcloud.patches.powertools_router_state): Powertools keeps the event being served on the
class ``BaseRouter``, so without the patch the second request to arrive overwrites the first's."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

import localcloud
from localcloud.patches import powertools_router_state

pytestmark = pytest.mark.timeout(30)


def _event(path: str, caller: str) -> dict[str, Any]:
    return {"resource": path, "path": path, "httpMethod": "GET", "headers": {"x-caller": caller},
            "multiValueHeaders": {"x-caller": [caller]}, "queryStringParameters": None,
            "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None,
            "requestContext": {"requestId": caller, "path": path, "httpMethod": "GET",
                               "authorizer": {"principalId": caller}}, "body": None, "isBase64Encoded": False}


def _serve_two_at_once() -> dict[str, Any]:
    """Two resolvers (two functions' apps), each with its own router, serving one request each;
    both handlers are inside their request at the same moment before they read it."""
    inside = threading.Barrier(2, timeout=10)
    apps: dict[str, APIGatewayRestResolver] = {}
    for name in ("capture", "route"):
        router = APIGatewayRouter()  # type: ignore[no-untyped-call]

        def handler(router: APIGatewayRouter = router) -> dict[str, Any]:
            inside.wait()
            return {"caller": router.current_event.request_context.authorizer.principal_id,
                    "path": router.current_event.path}

        router.get(f"/{name}")(handler)
        app = APIGatewayRestResolver()
        app.include_router(router)
        apps[name] = app
    seen: dict[str, Any] = {}

    def serve(name: str, caller: str) -> None:
        response = apps[name].resolve(_event(f"/{name}", caller), None)
        seen[name] = response["statusCode"], json.loads(response["body"])

    threads = [threading.Thread(target=serve, args=("capture", "agent")),
               threading.Thread(target=serve, args=("route", "DC-BERLIN"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    return seen


def test_two_api_functions_serving_at_once_each_see_their_own_request() -> None:
    localcloud.install()
    assert _serve_two_at_once() == {"capture": (200, {"caller": "agent", "path": "/capture"}),
                                    "route": (200, {"caller": "DC-BERLIN", "path": "/route"})}


def test_without_the_patch_one_request_reads_the_others_event() -> None:
    localcloud.install()
    powertools_router_state.uninstall()
    try:
        seen = _serve_two_at_once()
    finally:
        powertools_router_state.install()
    callers = {name: body["caller"] for name, (_, body) in seen.items()}
    assert callers["capture"] == callers["route"], seen  # both read whichever event came last
