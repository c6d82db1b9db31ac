"""Bad input is answered before any write: the right 4xx, as problem+json naming the field.

These requests never write (validation happens first). A ``POST /orders`` refused for its body
asks whether its Idempotency-Key is already used (the key is checked before the body): an
in-memory store answers that here, so no AWS is needed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.capture.capturing import CaptureService
from functions.capture.handlers.api import lambda_handler
from functions.core.errors import TransientError
from functions.platform.handlers.api import lambda_handler as platform_handler
from tests.unit.fakes import FakeOrderStore
from tests.unit.test_capture_logic import ORDER


class Context:
    function_name = "capture-api"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-central-1:123456789012:function:capture-api"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def call(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         role: str = "channel", handler: Any = lambda_handler) -> tuple[int, dict[str, Any], dict[str, Any]]:
    event = {
        "resource": path, "path": path, "httpMethod": method,
        "headers": {"Content-Type": "application/json", **(headers or {})}, "multiValueHeaders": {},
        "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
        "requestContext": {"requestId": "r", "stage": "v1", "httpMethod": method, "resourcePath": path,
                           "authorizer": {"role": role, "principal_id": "webshop"}, "identity": {}},
        "body": body if body is None or isinstance(body, str) else json.dumps(body), "isBase64Encoded": False,
    }
    result = handler(event, Context())
    headers_out = {k: v[0] if isinstance(v, list) else v
                   for k, v in (result.get("multiValueHeaders") or result.get("headers") or {}).items()}
    return result["statusCode"], headers_out, json.loads(result["body"])


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "unused-in-these-tests")
    service = CaptureService(store=FakeOrderStore())  # no key is held: each body's own refusal stands
    monkeypatch.setattr("functions.capture.endpoints.capture_service", lambda: service)


def with_(**changes: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(ORDER))
    for path, value in changes.items():
        target = data
        *parents, leaf = path.split("__")
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        if value is ...:
            del target[leaf]
        else:
            target[leaf] = value
    return data


KEY = {"Idempotency-Key": "k-1"}


@pytest.mark.parametrize(("body", "status", "field"), [
    (with_(lines__0__quantity=-1), 422, "lines[0].quantity"),
    (with_(lines__0__quantity="2"), 422, "lines[0].quantity"),
    (with_(lines=[]), 422, "lines"),
    (with_(currency="XXX"), 422, "currency"),
    (with_(lines__0__unit_price=12.5), 422, "lines[0].unit_price"),
    (with_(shipping_address=...), 422, "shipping_address"),
    (with_(shipping_address__country="Germany"), 422, "shipping_address.country"),
    (with_(customer__email="not-an-email"), 422, "customer.email"),
    (with_(surprise="field"), 422, "surprise"),
    (with_(lines=[{"sku": "S", "quantity": 1, "unit_price": "1.00"}] * 251), 422, "lines"),
])
def test_schema_violations_are_422_naming_the_field(body: dict[str, Any], status: int, field: str) -> None:
    code, headers, problem = call("POST", "/orders", body, KEY)
    assert code == status and headers["Content-Type"] == "application/problem+json"
    assert field in [e["field"] for e in problem["errors"]], problem
    assert problem["status"] == status and problem["title"] and problem["detail"]


def test_line_limit_message_names_the_limit() -> None:
    _, _, problem = call("POST", "/orders", with_(lines=[{"sku": "S", "quantity": 1, "unit_price": "1.00"}] * 251),
                         KEY)
    assert "250" in problem["errors"][0]["message"]


def test_missing_idempotency_key_is_400_naming_the_header() -> None:
    code, _, problem = call("POST", "/orders", ORDER)
    assert code == 400 and problem["errors"][0]["field"] == "Idempotency-Key"


def test_body_that_is_not_json_is_400() -> None:
    code, _, problem = call("POST", "/orders", "{not json", KEY)
    assert code == 400 and "JSON" in problem["detail"]


def test_one_megabyte_body_is_413() -> None:
    code, _, problem = call("POST", "/orders", "x" * (1024 * 1024), KEY)
    assert code == 413 and problem["status"] == 413


@pytest.mark.parametrize("role", ["node", "finance"])
def test_roles_that_may_not_capture_get_403(role: str) -> None:
    code, _, problem = call("POST", "/orders", ORDER, KEY, role=role)
    assert code == 403 and role in problem["detail"]


def test_unknown_route_is_404_problem() -> None:
    code, _, problem = call("GET", "/nowhere")
    assert code == 404 and problem["type"].endswith("not-found")


def test_health_docs_and_openapi_need_no_principal() -> None:
    assert call("GET", "/health", handler=platform_handler)[0] == 200
    code, _, doc = call("GET", "/openapi.json", handler=platform_handler)
    assert code == 200 and "/orders" in doc["paths"]


@pytest.mark.parametrize("body", ["[" * 50_000 + "]" * 50_000, '{"a":' * 5_000 + "1" + "}" * 5_000])
def test_a_body_nested_too_deeply_is_a_400_not_a_500(body: str) -> None:
    # a 100 KB array of arrays, or an object of objects, on a route that reads its body
    code, _, problem = call("POST", "/orders", body, headers={"Idempotency-Key": "k-1"})
    assert code == 400 and problem["type"].endswith("bad-request") and "nested" in problem["detail"]
    code, _, _ = call("POST", "/orders/quote", body)
    assert code == 400


class _ThrottledKeys(FakeOrderStore):
    def held_key(self, principal: str, key: str) -> None:
        raise TransientError("reading the Idempotency-Key record: ProvisionedThroughputExceededException")


class _BrokenKeys(FakeOrderStore):
    def held_key(self, principal: str, key: str) -> None:
        raise RuntimeError("unexpected")


def test_a_refused_body_whose_key_cannot_be_checked_is_503_or_its_own_422(monkeypatch: pytest.MonkeyPatch) -> None:
    invalid = with_(lines__0__quantity=-1)
    # the key's record cannot be read for a throttle: retry shortly (never a bare 502)
    monkeypatch.setattr("functions.capture.endpoints.capture_service", lambda: CaptureService(store=_ThrottledKeys()))
    status, headers, body = call("POST", "/orders", invalid, {"Idempotency-Key": "k-1"})
    assert (status, headers.get("Retry-After"), body["type"]) == (503, "1", "urn:oms:problem:unavailable")
    assert "Provisioned" not in body["detail"]
    # any other failure of the check: the body's own refusal is answered
    monkeypatch.setattr("functions.capture.endpoints.capture_service", lambda: CaptureService(store=_BrokenKeys()))
    status, _, body = call("POST", "/orders", invalid, {"Idempotency-Key": "k-1"})
    assert status == 422 and body["errors"][0]["field"] == "lines[0].quantity"
