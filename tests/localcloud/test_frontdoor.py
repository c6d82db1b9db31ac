"""The front door plays API Gateway for the deployed RestApi (localcloud.frontdoor)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from localcloud.server import LocalCloud
from tests.localcloud import api_stack
from tests.localcloud.lambdas import authorizer

KEY = "local-channel-key-0001"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    assembly = api_stack.write_assembly(tmp_path_factory.mktemp("assembly"))
    with LocalCloud(assembly=assembly, stack_name=api_stack.STACK) as running:
        yield running


@pytest.fixture
def http(cloud: LocalCloud) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cloud.frontdoor_url, timeout=10) as client:
        yield client


def test_proxy_event_has_the_aws_shape(http: httpx.Client, cloud: LocalCloud) -> None:
    # When an authorized GET reaches the {proxy+} resource with repeated query parameters
    response = http.get("/orders/ord_1/lines", params=[("a", "1"), ("a", "2")], headers={"x-api-key": KEY})
    # Then the integration got a REST proxy event v1 with the authorizer's context
    assert response.status_code == 200
    event = response.json()
    assert event["resource"] == "/orders/{proxy+}"
    assert event["path"] == "/orders/ord_1/lines"
    assert event["pathParameters"] == {"proxy": "ord_1/lines"}
    assert event["queryStringParameters"] == {"a": "2"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    context = event["requestContext"]
    assert context["stage"] == "v1" and context["path"] == "/v1/orders/ord_1/lines"
    assert context["resourcePath"] == "/orders/{proxy+}" and context["accountId"] == "123456789012"
    assert context["authorizer"] == {"role": "channel", "principal_id": "webshop", "principalId": "webshop"}
    assert context["identity"]["apiKey"] == KEY
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]


def test_open_route_needs_no_key(http: httpx.Client) -> None:
    assert http.get("/health").json()["resource"] == "/health"


def test_missing_key_is_401_without_calling_the_authorizer(http: httpx.Client) -> None:
    before = len(authorizer.CALLS)
    response = http.get("/orders")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "Unauthorized"}
    assert len(authorizer.CALLS) == before


@pytest.mark.parametrize(
    ("key", "status", "error_type"),
    [
        ("unknown-key-000000001", 401, "UNAUTHORIZED"),
        ("local-deny-key-000001", 403, "ACCESS_DENIED"),
        ("local-boom-key-000001", 500, "AUTHORIZER_FAILURE"),
        ("local-planless-key-01", 403, "INVALID_API_KEY"),
    ],
)
def test_authorizer_outcomes(http: httpx.Client, key: str, status: int, error_type: str) -> None:
    response = http.get("/orders", headers={"x-api-key": key})
    assert response.status_code == status
    assert response.headers["x-amzn-errortype"] == error_type


def test_authorizer_result_is_cached_per_identity(http: httpx.Client) -> None:
    http.get("/orders", headers={"x-api-key": KEY})
    before = len(authorizer.CALLS)
    assert http.get("/orders/x", headers={"x-api-key": KEY}).status_code == 200
    assert len(authorizer.CALLS) == before


def test_required_header_is_validated(http: httpx.Client) -> None:
    response = http.post("/orders", headers={"x-api-key": KEY}, content=b"{}")
    assert response.status_code == 400
    assert response.json() == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": "Missing required request parameters: [Idempotency-Key]",
    }
    ok = http.post("/orders", headers={"x-api-key": KEY, "Idempotency-Key": "k1"}, content=b'{"a": 1}')
    assert ok.status_code == 200 and ok.json()["body"] == '{"a": 1}'


def test_unknown_route_and_method_are_missing_authentication_token(http: httpx.Client) -> None:
    for response in (http.get("/nowhere"), http.delete("/health")):
        assert response.status_code == 404
        assert response.json() == {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": "Missing Authentication Token",
        }


def test_integration_errors_are_502(http: httpx.Client) -> None:
    for path in ("/orders/raise", "/orders/malformed"):
        response = http.get(path, headers={"x-api-key": KEY})
        assert response.status_code == 502
        # DEFAULT_5XX: its own status line, no status member
        assert response.json() == {"type": "about:blank", "title": "Server Error", "detail": "Internal server error"}


def test_binary_body_is_base64(http: httpx.Client) -> None:
    response = http.post("/orders/img", headers={"x-api-key": KEY, "Content-Type": "image/png"}, content=b"\x89PNG")
    assert response.json()["isBase64Encoded"] is True


def test_body_over_10_mb_is_413(http: httpx.Client) -> None:
    response = http.post("/orders", headers={"x-api-key": KEY}, content=b"x" * (10 * 1024 * 1024 + 1))
    assert response.status_code == 413
    # REQUEST_TOO_LARGE is not configured here: DEFAULT_4XX stands in, keeping the 413
    assert response.json() == {"type": "about:blank", "title": "Client Error", "detail": "Request Too Long"}


def test_local_info(http: httpx.Client, cloud: LocalCloud) -> None:
    info = http.get("/_local/info").json()
    assert info["aws_endpoint_url"] == cloud.endpoint_url
    assert info["stack_name"] == api_stack.STACK and info["region"] == "eu-central-1"


def test_until_the_stack_is_ready_every_route_is_503_and_local_routes_still_answer(cloud: LocalCloud) -> None:
    from werkzeug.test import Client

    from localcloud.frontdoor import FrontDoor

    # Given a front door that listens before the stack is seeded (what `make up` runs first)
    assert cloud.deployment is not None
    door = FrontDoor(cloud.deployment, cloud.endpoint_url, ready=False)
    client = Client(door)
    # Then /health (and every API route) says to come back, while /_local/ answers
    early = client.get("/health")
    assert early.status_code == 503 and early.headers["Retry-After"] == "1"
    assert early.headers["Content-Type"] == "application/problem+json"
    assert client.get("/orders", headers={"x-api-key": KEY}).status_code == 503
    assert client.get("/_local/info").status_code == 200
    # When it is ready (seeded), /health answers 200 and the routes are served
    door.ready.set()
    assert client.get("/health").status_code == 200


def test_local_info_reads_a_queues_channel_by_the_intake_functions_own_rule() -> None:
    from localcloud.frontdoor import _channel_of

    assert _channel_of("oms-local-intake-wholesale-edi") == "wholesale-edi"
    # what the intake function would refuse is listed as no channel's queue
    for name in ("oms-local-intake-webshop-dlq", "oms-local-intake-Web_Shop", "oms-local-order-stream-dlq"):
        assert _channel_of(name) is None
