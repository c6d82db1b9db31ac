"""Domain errors. Each maps to exactly one HTTP status in one place (core/handlers/http.py)."""

from __future__ import annotations

from dataclasses import dataclass


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
