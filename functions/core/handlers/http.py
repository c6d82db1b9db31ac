"""HTTP edge shared by every capability's API function: who is calling, and errors as
``application/problem+json`` (RFC 9457) mapped from domain errors in one place."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseContentSchema
from aws_lambda_powertools.logging import correlation_paths

from functions import init_done
from functions.core.errors import (
    PROBLEM_JSON,
    DomainError,
    FieldError,
    Forbidden,
    TransientError,
    as_transient,
    problem_body,
)
from functions.core.field_errors import error_message as _message
from functions.core.field_errors import field_errors
from functions.core.handlers.observability import logger, metrics
from functions.core.principal import ROLES, Principal

MAX_BODY_BYTES = 256 * 1024  # an order must fit in one queue message or event


def principal_of(app: BaseRouter) -> Principal:
    """The caller as resolved by the REQUEST authorizer (API Gateway puts its context here)."""
    ctx = (app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}
    role, principal_id = ctx.get("role"), ctx.get("principal_id")
    if role not in ROLES or not principal_id:
        # Only reachable when a route is wired without the authorizer: fail closed.
        raise Forbidden("no authenticated principal for this route")
    return Principal(role=str(role), principal_id=str(principal_id))


def require_role(app: BaseRouter, *roles: str) -> Principal:
    principal = principal_of(app)
    if principal.role not in roles:
        raise Forbidden(f"role {principal.role!r} may not {app.current_event.http_method} this resource")
    return principal


#: What each error status means on a route that declares it (``problem_responses``).
PROBLEMS = {
    404: "Not found (another principal's resource does not exist for you)",
    409: "Conflict: the resource is in a state that does not allow this, or changed while it was read",
    503: "Service unavailable: the table is throttled; retry after `Retry-After` seconds",
}


_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["type", "title", "status", "detail"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                   "detail": {"type": "string"}}}


def problem_responses(*statuses: int, ok: int | None = 200,
                      ok_description: str = "Successful Response") -> dict[int, OpenAPIResponse]:
    """OpenAPI ``responses`` for the errors a route can give, each as problem+json — and its
    success ``ok`` (None: the route lists its own 2xx), because a route's ``responses`` replace
    Powertools' default one: an entry without ``content`` gets the route's return model."""
    problems: dict[int, OpenAPIResponse] = {
        status: OpenAPIResponse(description=PROBLEMS[status],
                                content={PROBLEM_JSON: OpenAPIResponseContentSchema(schema=_PROBLEM_SCHEMA)})
        for status in statuses}
    return problems if ok is None else {ok: OpenAPIResponse(description=ok_description), **problems}


def problem(
    status: int, title: str, detail: str, *, slug: str, errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
) -> Response[str]:
    return Response(status_code=status, content_type=PROBLEM_JSON,
                    body=problem_body(status, title, detail, slug=slug, errors=errors), headers=headers)



def _validation_problem(exc: RequestValidationError) -> Response[str]:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem(400, "Bad request", "the request body is not valid JSON", slug="bad-request")
    headers_missing = [e for e in errors if (e.get("loc") or ("",))[0] == "header"]
    if headers_missing:
        fields = [FieldError(_header_name(str(e["loc"][-1])), _message(e)) for e in headers_missing]
        detail = "; ".join(f"header {f.field} {f.message}" for f in fields)
        return problem(400, "Bad request", detail, slug="bad-request", errors=fields)
    fields = field_errors(errors, within=("body", "query", "path"))
    detail = "; ".join(f"{f.field}: {f.message}" for f in fields[:5])
    return problem(422, "Validation failed", detail, slug="validation", errors=fields)


def _header_name(name: str) -> str:
    """``idempotency-key`` → ``Idempotency-Key`` (as the client wrote it in the docs)."""
    return "-".join(part.capitalize() for part in name.split("-"))


#: Consulted before a request is refused for its body (Powertools' validation, which runs before
#: the route): an answer that comes first — e.g. ``POST /orders`` checks its Idempotency-Key
#: before its body. None lets the body's refusal stand.
BeforeRefusal = Callable[[], "Response[str] | None"]


def _unavailable(exc: TransientError) -> Response[str]:
    """503 with Retry-After. What was throttled is logged, never shown: the text names tables,
    order ids and AWS error codes, which no caller should see."""
    logger.warning("transient failure", extra={"error": str(exc)})
    return problem(503, "Service unavailable", "the service is busy; retry after the Retry-After seconds",
                   slug="unavailable", headers={"Retry-After": "1"})


def install_error_handlers(app: APIGatewayRestResolver, before_refusal: BeforeRefusal | None = None) -> None:
    """Every API function maps errors the same way."""

    def _domain_problem(exc: DomainError) -> Response[str]:
        return problem(exc.status, exc.title, exc.detail, slug=exc.slug, errors=exc.errors)

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def _on_validation(exc: RequestValidationError) -> Response[str]:
        # What an exception handler raises escapes Powertools (a bare 502 from API Gateway), so
        # the hook's own failures are answered here: a throttle as 503, anything else by the
        # body's refusal it was consulted for.
        if before_refusal is not None:
            try:
                answer = before_refusal()
            except DomainError as domain:
                return _domain_problem(domain)
            except TransientError as transient:
                return _unavailable(transient)
            except Exception as failed:
                mapped = as_transient(failed)  # a throttle or lost answer no adapter mapped
                if mapped is not None:
                    return _unavailable(mapped)
                logger.exception("checking the request before refusing its body failed")
                answer = None
            if answer is not None:
                return answer
        return _validation_problem(exc)

    @app.exception_handler(DomainError)  # type: ignore[untyped-decorator]
    def _on_domain(exc: DomainError) -> Response[str]:
        return _domain_problem(exc)

    @app.not_found
    def _on_not_found(_: Exception) -> Response[str]:
        return problem(404, "Not found", f"no route {app.current_event.http_method} {app.current_event.path}",
                       slug="not-found")

    @app.exception_handler(RecursionError)  # type: ignore[untyped-decorator]
    def _on_too_deep(_: RecursionError) -> Response[str]:
        # Bad input, not a fault: the only unbounded nesting an API function handles is the
        # request body's, which the JSON decoder (in Powertools' validation) walks recursively.
        return problem(400, "Bad request", "the request body is nested too deeply", slug="bad-request")

    @app.exception_handler(TransientError)  # type: ignore[untyped-decorator]
    def _on_transient(exc: TransientError) -> Response[str]:
        return _unavailable(exc)

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def _on_unexpected(exc: Exception) -> Response[str]:
        transient = as_transient(exc)  # a throttle an adapter did not map: still a 503, never a 500
        if transient is not None:
            return _unavailable(transient)
        logger.exception("unhandled error")
        return problem(500, "Internal error", "an unexpected error occurred; it has been logged",
                       slug="internal")


def api_resolver(*routers: Any, before_refusal: BeforeRefusal | None = None) -> APIGatewayRestResolver:
    """A capability's API: Powertools validation on, its routers, errors as problem+json."""
    app = APIGatewayRestResolver(enable_validation=True)
    for router in routers:
        app.include_router(router)
    install_error_handlers(app, before_refusal)
    return app


def api_handler(app: APIGatewayRestResolver) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point of an API function: the logger's context (correlated by the
    request id), metrics, oversized bodies refused, then routed."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        too_large = oversized(event)
        if too_large is not None:
            return too_large
        result: dict[str, Any] = app.resolve(event, context)
        return result

    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = lambda_handler
    init_done()  # the handler module's last statement builds this: its init is over (functions/__init__.py)
    return handler


def oversized(event: dict[str, Any]) -> dict[str, Any] | None:
    """The 413 proxy response for a body over the limit, answered before any parsing or routing:
    an order must fit in one queue message or event."""
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode("utf-8"))
    if size <= MAX_BODY_BYTES:
        return None
    detail = f"the body is {size} bytes; at most {MAX_BODY_BYTES} are accepted"
    return {"statusCode": 413, "headers": {"Content-Type": PROBLEM_JSON}, "isBase64Encoded": False,
            "body": problem_body(413, "Payload too large", detail, slug="payload-too-large")}

