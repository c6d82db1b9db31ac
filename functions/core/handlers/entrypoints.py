"""The shape of every Lambda entry point that is not an API: one decorator (or call) each,
so a handler module holds only its parsing and its one use-case call.

- Step Functions tasks: ``@task_handler(InputDataclass)`` — the logger's context (correlated by
  ``order_id``), metrics with the cold-start metric, and the payload checked against the
  task's input dataclass (``core/tasks.py``), in that fixed order (outermost first).
- SQS and DynamoDB-stream consumers: ``lambda_handler = batch_handler("SQS" | "DynamoDBStreams",
  record_handler)`` — Powertools' ``BatchProcessor`` with partial batch responses
  (``ReportBatchItemFailures`` on the event source), under the same logger and metrics
  decorators. With ``reserve_ms``, a record is started only while that much time is left: the
  records left are failed at once (SQS or the stream delivers them again) rather than cut off
  by the timeout, which would fail the whole batch. Powertools' batch utilities are imported
  by the consumers only: a task's cold start does not pay for them (``make bench``, bench/coldstart.py).
- A task that meets a throttle or a lost connection the adapter did not map raises
  ``TransientError`` all the same (``as_transient``): the name the workflows retry on, so no
  raw ``ClientError`` ends an order's workflow. Consumers need no mapping: any failure of a
  record is delivered again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from functions import init_done
from functions.core.errors import as_transient
from functions.core.handlers.observability import logger, metrics
from functions.core.tasks import task

T = TypeVar("T")
R = TypeVar("R")


def task_handler(model: type[T]) -> Callable[[Callable[[T, Any], R]], Callable[[Any, Any], R]]:
    """Decorate a Step Functions task whose input is the dataclass ``model``."""
    def decorate(handler: Callable[[T, Any], R]) -> Callable[[Any, Any], R]:
        def transient_as_such(event: T, context: Any) -> R:
            try:
                return handler(event, context)
            except Exception as exc:
                mapped = as_transient(exc)
                if mapped is None:
                    raise
                raise mapped from exc

        parsed = task(model)(transient_as_such)
        measured = metrics.log_metrics(capture_cold_start_metric=True)(parsed)
        wrapped: Callable[[Any, Any], R] = logger.inject_lambda_context(correlation_id_path="order_id")(measured)
        init_done()  # the task's handler is built: its init is over (functions/__init__.py)
        return wrapped
    return decorate


class OutOfTime(Exception):
    """Too little of the invocation's time is left to start this record."""


def batch_handler(event_type: Literal["SQS", "DynamoDBStreams"], record_handler: Callable[[Any], None], *,
                  start: Callable[[], None] | None = None,
                  finish: Callable[[], None] | None = None,
                  reserve_ms: int | None = None) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point of a batch consumer: each record through ``record_handler``,
    failures reported per record. ``start``/``finish`` run before and after the batch (e.g. to
    publish what the records collected in one call); if ``finish`` raises, the batch is retried.
    ``reserve_ms``: no record is started with less time than that left; it fails untouched."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType(event_type))

    @logger.inject_lambda_context
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if start is not None:
            start()
        handle = record_handler if reserve_ms is None else _in_time(record_handler, context, reserve_ms)
        response: dict[str, Any] = process_partial_response(  # type: ignore[assignment]  # a TypedDict
            event=event, record_handler=handle, processor=processor, context=context)
        if finish is not None:
            finish()
        return response

    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = lambda_handler
    init_done()  # the consumer's handler is built: its init is over (functions/__init__.py)
    return handler


def _in_time(record_handler: Callable[[Any], None], context: Any, reserve_ms: int) -> Callable[[Any], None]:
    def handle(record: Any) -> None:
        left = context.get_remaining_time_in_millis()
        if left < reserve_ms:
            raise OutOfTime(f"{left} ms left, {reserve_ms} ms needed to start a record")
        record_handler(record)
    return handle
