"""The HTTP front door: plays API Gateway (REST, Lambda proxy) for the deployed RestApi.

Everything comes from what moto's apigateway backend holds after the deploy (resources,
methods, integrations, authorizers, validators, usage plans and keys, gateway responses), never
from a route table of its own, so the local API answers like the deployed one. Served at the
root (no stage prefix). Local-only routes live under ``/_local/`` and are pluggable through
:func:`register_local_route`.

Order of checks (as API Gateway): size limit, route match, authorizer (identity source, cached
result, policy), API key from the authorizer, request parameter validation, integration.
Not modelled: throttling/quotas of usage plans, non-proxy integrations, TOKEN and Cognito
authorizers, body (model) validation.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.apigateway.models import Method, Resource, RestAPI, apigateway_backends
from moto.utilities.arns import parse_arn
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from functions.capture.feeds import DEAD_LETTER_SUFFIX, feed_queue
from functions.core.errors import PROBLEM_JSON, FieldError, problem_body
from localcloud import ACCOUNT_ID, REGION, meter
from localcloud.deploy import Deployment
from localcloud.patches.lambda_runtime import invoke_sync

MAX_BODY = 10 * 1024 * 1024

LocalRoute = Callable[[Request, "FrontDoor"], Response]
_local_routes: dict[str, LocalRoute] = {}


def register_local_route(path: str, handler: LocalRoute) -> None:
    """Serve ``handler`` at ``/_local/<path>`` (e.g. the notify capability's outbox); a path
    ``<segment>/*`` serves every path under ``/_local/<segment>/``. A handler may raise
    :class:`LocalProblem` to answer with a problem."""
    _local_routes[path.strip("/")] = handler


class LocalProblem(Exception):
    """A local route's refusal, answered as the API's own RFC 9457 problem (400: not JSON; 422:
    naming ``field``)."""

    TITLES = {400: ("Bad request", "bad-request"), 422: ("Validation failed", "validation"),
              503: ("Service unavailable", "unavailable")}

    def __init__(self, status: int, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.field = status, detail, field

    def response(self) -> Response:
        title, slug = self.TITLES.get(self.status, ("Error", "internal"))
        errors = [FieldError(self.field, self.detail)] if self.field else []
        return Response(problem_body(self.status, title, self.detail, slug=slug, errors=errors),
                        status=self.status, content_type=PROBLEM_JSON)


def json_object(request: Request, example: str, field: str) -> dict[str, Any]:
    """A local route's JSON object body (empty: ``{}``), or a :class:`LocalProblem` that shows
    ``example``: 400 if it is not JSON, 422 naming ``field`` if it is not an object."""
    try:
        body = json.loads(request.get_data() or b"{}")
    except ValueError:
        raise LocalProblem(400, f"the body is not JSON: {example}") from None
    if not isinstance(body, dict):
        raise LocalProblem(422, f"a JSON object: {example}", field)
    return body


_DEFAULT_STATUS = {
    "UNAUTHORIZED": 401,
    "ACCESS_DENIED": 403,
    "INVALID_API_KEY": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "BAD_REQUEST_PARAMETERS": 400,
    "BAD_REQUEST_BODY": 400,
    "REQUEST_TOO_LARGE": 413,
    "AUTHORIZER_FAILURE": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "API_CONFIGURATION_ERROR": 500,
    "DEFAULT_5XX": 502,
}


class GatewayError(Exception):
    """A response API Gateway itself produces (rendered from the deployed gateway responses)."""

    def __init__(self, response_type: str, message: str | None, status: int | None = None) -> None:
        super().__init__(message)
        self.response_type = response_type
        self.message = message
        self.status = status or _DEFAULT_STATUS.get(response_type, 500)


@dataclass(frozen=True)
class Route:
    resource: Resource
    method: Method
    path_parameters: dict[str, str]


def _pattern(path: str) -> re.Pattern[str]:
    parts = []
    for segment in path.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{segment[1:-2]}>.+)")
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "$") if path != "/" else re.compile("^/$")


def _specificity(path: str) -> tuple[int, int]:
    segments = path.strip("/").split("/")
    return (sum(not s.startswith("{") for s in segments), -sum(s.endswith("+}") for s in segments))


def _glob(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _policy_allows(policy: dict[str, Any], method_arn: str) -> tuple[bool, bool]:
    """(allowed, explicitly denied) for ``execute-api:Invoke`` on ``method_arn``."""
    allowed = denied = False
    statements = policy.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if not any(_glob(a, "execute-api:Invoke") for a in actions):
            continue
        if any(_glob(r, method_arn) for r in resources):
            if statement.get("Effect") == "Deny":
                denied = True
            elif statement.get("Effect") == "Allow":
                allowed = True
    return allowed and not denied, denied


class FrontDoor:
    """WSGI application for one deployed RestApi and stage."""

    def __init__(self, deployment: Deployment, endpoint_url: str, *, ready: bool = True) -> None:
        self.deployment = deployment
        self.endpoint_url = endpoint_url
        #: Set once the stack can serve every route (deployed *and* seeded, API.md): until then
        #: every API route answers 503, so a client that waits for /health's 200 may call anything.
        self.ready = threading.Event()
        if ready:
            self.ready.set()
        backend = apigateway_backends[ACCOUNT_ID][REGION]
        api_id = deployment.outputs.get("ApiId") or next(iter(deployment.of_type("AWS::ApiGateway::RestApi").values()))
        self.api: RestAPI = backend.get_rest_api(api_id)
        self.stage = deployment.outputs.get("ApiStage") or next(iter(self.api.stages))
        self._auth_cache: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
        self._cache_lock = threading.Lock()
        self._auth_generation = 0  # bumped when the local clock moves (pass_time)

    # --- WSGI -------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        return self.handle(request)(environ, start_response)

    def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        if request.path.startswith("/_local/"):
            path = request.path[len("/_local/") :].strip("/")
            # exact, else ``<first segment>/*`` (a route with parameters: schedules/<name>/run)
            route = _local_routes.get(path) or _local_routes.get(path.split("/", 1)[0] + "/*")
            if route is None:
                return Response("not found", status=404)
            try:
                return route(request, self)
            except LocalProblem as problem:
                return problem.response()
        if not self.ready.is_set():
            body = json.dumps({"type": "urn:oms:problem:unavailable", "title": "Service unavailable", "status": 503,
                               "detail": "the local stack is starting (deployed, not yet seeded); retry shortly"})
            return Response(body, status=503, content_type="application/problem+json", headers={"Retry-After": "1"})
        try:
            return self._proxy(request, request_id)
        except GatewayError as error:
            return self._gateway_response(error, request_id)

    # --- API Gateway ------------------------------------------------------------------------

    def match(self, path: str, http_method: str) -> Route:
        """The most specific resource matching ``path`` (as API Gateway, no fallback to a less
        specific one when it lacks the method)."""
        candidates = []
        for resource in self.api.resources.values():
            template = resource.get_path()
            found = _pattern(template).match(path if path != "" else "/")
            if found:
                candidates.append((_specificity(template), resource, found.groupdict()))
        best = max(candidates, key=lambda c: c[0], default=None)
        method = None
        if best is not None:
            methods = best[1].resource_methods
            method = methods.get(http_method) or methods.get("ANY")
        if best is None or method is None:
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
        return Route(best[1], method, best[2])

    def _proxy(self, request: Request, request_id: str) -> Response:
        body = request.get_data()
        if len(body) > MAX_BODY:
            raise GatewayError("REQUEST_TOO_LARGE", "Request Too Long")
        route = self.match(request.path, request.method)
        meter.api_request(request.method, route.resource.get_path())
        event = self._event(request, route, body, request_id)
        if route.method.authorization_type == "CUSTOM" and route.method.authorizer_id:
            event["requestContext"]["authorizer"] = self._authorize(request, route, event)
        self._validate(request, route)
        integration = route.method.method_integration
        if integration is None or integration.integration_type != "AWS_PROXY" or not integration.uri:
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
        return self._invoke_integration(integration.uri, event)

    def _event(self, request: Request, route: Route, body: bytes, request_id: str) -> dict[str, Any]:
        headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            # WSGI loses the client's header case; lower case is what HTTP/2 clients send.
            headers.setdefault(name.lower(), []).append(value)
        query = {k: request.args.getlist(k) for k in request.args}
        binary = self._is_binary(request.content_type)
        text: str | None = None
        if body:
            if binary:
                text = base64.b64encode(body).decode()
            else:
                try:
                    text = body.decode()
                except UnicodeDecodeError:
                    text, binary = base64.b64encode(body).decode(), True
        resource_path = route.resource.get_path()
        return {
            "resource": resource_path,
            "path": request.path,
            "httpMethod": request.method,
            "headers": {k: v[-1] for k, v in headers.items()} or None,
            "multiValueHeaders": headers or None,
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": route.path_parameters or None,
            "stageVariables": self.api.stages[self.stage].variables or None,
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": self.api.id,
                "stage": self.stage,
                "requestId": request_id,
                "extendedRequestId": request_id,
                "resourceId": route.resource.id,
                "resourcePath": resource_path,
                "httpMethod": request.method,
                "path": f"/{self.stage}{request.path}",
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
                "requestTimeEpoch": int(time.time() * 1000),
                "domainName": request.host,
                "identity": {
                    "sourceIp": request.remote_addr or "127.0.0.1",
                    "userAgent": request.user_agent.string or None,
                    "apiKey": None,
                    "apiKeyId": None,
                },
            },
            "body": text,
            "isBase64Encoded": binary and text is not None,
        }

    def _is_binary(self, content_type: str | None) -> bool:
        mimetype = (content_type or "").split(";")[0].strip()
        return any(_glob(pattern, mimetype) for pattern in self.api.binaryMediaTypes or [])

    def _method_arn(self, request: Request) -> str:
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{self.api.id}/{self.stage}/{request.method}{request.path}"

    def pass_time(self, seconds: float) -> None:
        """The local clock moved ``seconds`` forward (``/_local/clock``): cached authorizer
        decisions age by as much, as API Gateway's would over that time."""
        with self._cache_lock:
            self._auth_cache = {key: (until - seconds, result) for key, (until, result) in self._auth_cache.items()
                                if until - seconds > time.monotonic()}
            self._auth_generation += 1  # a decision made before the move is not cached after it

    def forget_authorizations(self) -> None:
        """Drop every cached authorizer decision (the local clock went back to real time)."""
        with self._cache_lock:
            self._auth_cache = {}
            self._auth_generation += 1

    def _authorize(self, request: Request, route: Route, event: dict[str, Any]) -> dict[str, Any]:
        authorizer = self.api.authorizers[route.method.authorizer_id]
        if authorizer.type != "REQUEST":
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", "Internal server error")
        identity = []
        for source in (authorizer.identity_source or "").split(","):
            value = self._identity_value(source.strip(), request, route)
            if not value:
                raise GatewayError("UNAUTHORIZED", "Unauthorized")
            identity.append(value)
        ttl = int(authorizer.authorizer_result_ttl or 0)
        key = (authorizer.id, *identity)
        with self._cache_lock:
            cached = self._auth_cache.get(key)
            generation = self._auth_generation
        if cached and cached[0] > time.monotonic():
            result = cached[1]
        else:
            result = self._call_authorizer(authorizer.authorizer_uri, request, route, event)
            if ttl > 0:
                with self._cache_lock:
                    if generation == self._auth_generation:
                        self._auth_cache[key] = (time.monotonic() + ttl, result)
        allowed, denied = _policy_allows(result.get("policyDocument") or {}, self._method_arn(request))
        if not allowed:
            message = "User is not authorized to access this resource"
            raise GatewayError("ACCESS_DENIED", message + (" with an explicit deny" if denied else ""))
        if route.method.api_key_required:
            key_value = (
                result.get("usageIdentifierKey")
                if self.api.api_key_source == "AUTHORIZER"
                else request.headers.get("x-api-key")
            )
            event["requestContext"]["identity"].update(self._check_api_key(key_value))
        context = {k: v for k, v in (result.get("context") or {}).items() if isinstance(v, (str, int, float, bool))}
        return {**context, "principalId": result.get("principalId")}

    @staticmethod
    def _identity_value(source: str, request: Request, route: Route) -> str | None:
        prefix, _, name = source.rpartition(".")
        if prefix == "method.request.header":
            return request.headers.get(name)
        if prefix == "method.request.querystring":
            return request.args.get(name)
        if prefix == "method.request.path":
            return route.path_parameters.get(name)
        return None

    def _call_authorizer(self, uri: str, request: Request, route: Route, event: dict[str, Any]) -> dict[str, Any]:
        authorizer_event = {
            "type": "REQUEST",
            "methodArn": self._method_arn(request),
            "resource": event["resource"],
            "path": event["path"],
            "httpMethod": event["httpMethod"],
            "headers": event["headers"],
            "multiValueHeaders": event["multiValueHeaders"],
            "queryStringParameters": event["queryStringParameters"],
            "multiValueQueryStringParameters": event["multiValueQueryStringParameters"],
            "pathParameters": event["pathParameters"],
            "stageVariables": event["stageVariables"],
            "requestContext": event["requestContext"],
        }
        result = invoke_sync(_function_arn(uri), authorizer_event)
        payload = result.payload
        if result.function_error:
            if isinstance(payload, dict) and payload.get("errorMessage") == "Unauthorized":
                raise GatewayError("UNAUTHORIZED", "Unauthorized")
            raise GatewayError("AUTHORIZER_FAILURE", None)
        if not isinstance(payload, dict) or "principalId" not in payload or "policyDocument" not in payload:
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", None)
        return payload

    def _check_api_key(self, value: str | None) -> dict[str, str]:
        backend = apigateway_backends[ACCOUNT_ID][REGION]
        key = next((k for k in backend.keys.values() if value and k.value == value and k.enabled), None)
        if key is not None:
            for plan in backend.usage_plans.values():
                stages = {(s.get("apiId"), s.get("stage")) for s in plan.api_stages or []}
                if (self.api.id, self.stage) in stages and key.id in backend.usage_plan_keys.get(plan.id, {}):
                    return {"apiKey": key.value, "apiKeyId": key.id}
        raise GatewayError("INVALID_API_KEY", "Forbidden")

    def _validate(self, request: Request, route: Route) -> None:
        validator_id = route.method.request_validator_id
        if not validator_id:
            return
        validator = self.api.request_validators.get(validator_id)
        if validator is None or not validator.validate_request_parameters:
            return
        missing = []
        for parameter, required in (route.method.request_parameters or {}).items():
            if not required:
                continue
            if self._identity_value(parameter, request, route) is None:
                missing.append(parameter.rpartition(".")[2])
        if missing:
            raise GatewayError("BAD_REQUEST_PARAMETERS", f"Missing required request parameters: [{', '.join(missing)}]")

    def _invoke_integration(self, uri: str, event: dict[str, Any]) -> Response:
        result = invoke_sync(_function_arn(uri), event)
        payload = result.payload
        if result.function_error or not isinstance(payload, dict) or not isinstance(payload.get("statusCode"), int):
            raise GatewayError("DEFAULT_5XX", "Internal server error")
        headers = Headers()
        for name, value in (payload.get("headers") or {}).items():
            headers[name] = str(value)
        for name, values in (payload.get("multiValueHeaders") or {}).items():
            headers.remove(name)
            for value in values:
                headers.add(name, str(value))
        body = payload.get("body") or ""
        if not isinstance(body, str):
            raise GatewayError("DEFAULT_5XX", "Internal server error")
        data = base64.b64decode(body) if payload.get("isBase64Encoded") else body.encode()
        headers.setdefault("Content-Type", "application/json")
        return Response(data, status=payload["statusCode"], headers=headers)

    def _gateway_response(self, error: GatewayError, request_id: str) -> Response:
        responses = self.api.gateway_responses
        fallback = "DEFAULT_5XX" if error.status >= 500 else "DEFAULT_4XX"
        configured = responses.get(error.response_type) or responses.get(fallback)
        status = int(configured.status_code) if configured and configured.status_code else error.status
        templates = (configured.response_templates if configured else None) or {}
        template = templates.get("application/json")
        message_string = json.dumps(error.message)
        if template is None:
            body = json.dumps({"message": error.message})
        else:
            body = (
                template.replace("$context.error.messageString", message_string)
                .replace("$context.error.message", error.message or "")
                .replace("$context.error.responseType", error.response_type)
                .replace("$context.requestId", request_id)
            )
        headers = Headers({"Content-Type": "application/json", "x-amzn-ErrorType": error.response_type})
        for name, value in ((configured.response_parameters if configured else None) or {}).items():
            if name.startswith("gatewayresponse.header."):
                headers[name.rpartition(".")[2]] = value.strip("'")
        headers["x-amzn-RequestId"] = request_id
        return Response(body, status=status, headers=headers)


def _function_arn(uri: str) -> str:
    """``arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<arn>/invocations``."""
    return uri.split("/functions/", 1)[1].rsplit("/invocations", 1)[0]


def _state_machine_stem(name: str) -> str:
    """``oms-local-order-fulfillment`` -> ``order_fulfillment`` (the ASL file stem)."""
    return re.sub(r"^oms-[a-z0-9]+-", "", name).replace("-", "_")


def _channel_of(queue_name: str) -> str | None:
    """The channel whose intake queue this is, by the intake function's own rule (None: not one)."""
    try:
        return feed_queue(f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue_name}").channel
    except ValueError:
        return None


def _queues(door: FrontDoor) -> tuple[dict[str, str], dict[str, str]]:
    """The stack's queues as a client reaches them on the local endpoint: the channels' intake
    queues by channel (``oms-<env>-intake-<channel>``), and every DLQ by name (``…-dlq``)."""
    names = sorted(url.rsplit("/", 1)[-1] for url in door.deployment.of_type("AWS::SQS::Queue").values())
    url = f"{door.endpoint_url.rstrip('/')}/{ACCOUNT_ID}/{{}}".format
    intake = {channel: url(n) for n in names if (channel := _channel_of(n)) is not None}
    return intake, {n: url(n) for n in names if n.endswith(DEAD_LETTER_SUFFIX)}


def _info(request: Request, door: FrontDoor) -> Response:
    outputs = door.deployment.outputs
    machines = door.deployment.of_type("AWS::StepFunctions::StateMachine").values()
    intake_queues, dead_letter_queues = _queues(door)
    return Response(
        json.dumps(
            {
                "aws_endpoint_url": door.endpoint_url,
                "region": REGION,
                "stack_name": door.deployment.stack_name,
                "table_name": outputs.get("TableName"),
                "event_bus_name": outputs.get("EventBusName"),
                "state_machines": {_state_machine_stem(parse_arn(arn).resource_id): arn for arn in machines},
                "intake_queues": intake_queues,
                "dead_letter_queues": dead_letter_queues,
                # the finance archive: events/dt=<yyyy-MM-dd>/…, one EventBridge event a line (API.md)
                "finance_bucket": outputs.get("FinanceBucketName"),
                # the rendered invoices and credit notes (an extension of API.md's info)
                "document_bucket": outputs.get("DocumentBucketName"),
            }
        ),
        content_type="application/json",
    )


register_local_route("info", _info)
