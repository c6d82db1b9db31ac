"""Domain errors. Each maps to exactly one HTTP status in one place (core/handlers/http.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: The media type of every error answer (RFC 9457).
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    status = 500
    title = "Internal error"
    slug = "internal"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class BadRequest(DomainError):
    status, title, slug = 400, "Bad request", "bad-request"


class Unauthenticated(DomainError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(DomainError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(DomainError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(DomainError):
    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLarge(DomainError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class ValidationFailed(DomainError):
    """JSON that breaks the schema or a business rule; always names the field."""

    status, title, slug = 422, "Validation failed", "validation"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=[FieldError(field, message)])


class TransientError(Exception):
    """Retryable infrastructure failure; Step Functions retries on this name."""


#: AWS error codes (and DynamoDB cancellation reasons) worth another try: throttles, a conflict
#: with a concurrent transaction, a service's own transient failure. THE list: adapters, task
#: entry points and the HTTP edge all ask ``is_retryable`` (duck-typed on the botocore error's
#: ``response``, so this module imports no AWS library).
RETRYABLE = frozenset({
    "TransactionConflict", "TransactionInProgressException",
    "ThrottlingError", "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestThrottled",
    "ProvisionedThroughputExceeded", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
    "SlowDown", "InternalServerError", "InternalFailure", "InternalError", "InternalServiceError",
    "ServiceUnavailable", "ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException",
    "PriorRequestNotComplete", "LimitExceededException",
})


def cancellation_codes(exc: BaseException) -> list[str]:
    """The per-action reasons of a TransactionCanceledException ("None" where the action passed)."""
    response = getattr(exc, "response", None)
    reasons = response.get("CancellationReasons", []) if isinstance(response, dict) else []
    return [r.get("Code", "None") for r in reasons if isinstance(r, dict)]


def is_retryable(exc: BaseException) -> bool:
    """A throttle, a conflict with a concurrent transaction or a service's transient failure:
    retry later, it is not a refusal."""
    response = getattr(exc, "response", None)  # botocore's ClientError; anything else has none (or not a dict)
    error = response.get("Error") if isinstance(response, dict) else None
    code = error.get("Code", "") if isinstance(error, dict) else ""
    return code in RETRYABLE or any(c in RETRYABLE for c in cancellation_codes(exc))


#: botocore's errors for a request that got no answer (timed out, connection lost): retryable.
_NO_ANSWER = ("ConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "EndpointConnectionError",
              "ConnectionClosedError")


def as_transient(exc: BaseException) -> TransientError | None:
    """``exc`` as the TransientError it is — a throttle or a service's transient failure
    (``core.errors.is_retryable``), or botocore finding no answer — or None. Class names are
    compared so that this module imports no AWS library."""
    if isinstance(exc, TransientError):
        return None  # already the name the workflows retry on
    names = {cls.__name__ for cls in type(exc).__mro__}
    if is_retryable(exc) or ("BotoCoreError" in names and names & set(_NO_ANSWER)):
        return TransientError(f"{type(exc).__name__}: {exc}")
    return None


def problem_body(status: int, title: str, detail: str, *, slug: str, errors: Sequence[FieldError] = ()) -> str:
    """The RFC 9457 body of every error answer (no Powertools import here: the local front door's
    own routes render it before any function's environment is applied)."""
    body: dict[str, Any] = {"type": f"urn:oms:problem:{slug}", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    return json.dumps(body)
