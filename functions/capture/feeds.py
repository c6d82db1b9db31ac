"""Feeds: orders a channel sends over its own SQS intake queue, captured as if each had been
posted to ``POST /orders`` with its idempotency key (API.md, "Channels and webhooks" → Feeds).

- The channel is the queue's (``oms-<env>-intake-<channel>``, whose policy names its senders),
  never a member of the message: :func:`feed_queue` reads it from the record's queue ARN.
  (Every function of a stack has the same environment, so the channel comes from the queue's
  name — the convention ``EnvironmentConfig.intake_queue_name`` builds — not from a variable.)
- Each order goes through the API's own use case (``CaptureService.capture_request``; the key
  checked before the body, as ``POST /orders`` does). Invalid ones, a different order reusing
  a ``channel_order_id``, and a key reused for another order are dead letters: one message per
  order on the queue's DLQ, ``{"idempotency_key", "order", "errors": [{"field", "message"}]}``,
  with the API's 422 field names. The valid orders of the same message are captured.
- A transient failure (a throttle, a concurrent capture with the same key) fails the whole
  record so SQS delivers it again — after every other order of it was tried, and BEFORE any
  dead letter is sent: the retry replays what was captured (same keys, no-ops) and sends the
  dead letters once, when nothing of the record is left to retry. Only a failure of the DLQ
  send itself, or SQS delivering a finished message again, can repeat a dead letter (the same
  body): at least once, so a reader of the DLQ de-duplicates by ``idempotency_key``.

No AWS here: the DLQ comes in through ``DeadLetterQueue`` (ports.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from functions.core.errors import Conflict, DomainError, FieldError, TransientError, ValidationFailed
from functions.core.principal import Principal

from .capturing import CaptureService, DuplicateOrder, NewOrder
from .ports import CaptureInProgress, DeadLetterQueue

#: ``oms-<env>-intake-<channel>`` (infra/config.py ``intake_queue_name`` builds it). The one
#: rule that reads a channel from a queue's name: infra checks each configured channel reads
#: back through :func:`feed_queue`, and the local front door lists the queues with it.
INTAKE_QUEUE = re.compile(r"^oms-[a-z0-9]+-intake-(?P<channel>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)$")


DEAD_LETTER_SUFFIX = "-dlq"


@dataclass(frozen=True)
class FeedQueue:
    """The intake queue a record came from: whose orders it carries and where refusals go."""

    channel: str
    dead_letter_url: str


def feed_queue(queue_arn: str) -> FeedQueue:
    """``arn:aws:sqs:<region>:<account>:oms-<env>-intake-<channel>`` → its channel and the URL
    of its DLQ (``…-dlq``, same account and region). A queue outside the convention (a DLQ too) is a
    wiring error, never a channel: ``ValueError`` (the record is retried, then dead-lettered
    whole by SQS)."""
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs":
        raise ValueError(f"not an SQS queue ARN: {queue_arn!r}")
    region, account, name = parts[3], parts[4], parts[5]
    matched = INTAKE_QUEUE.match(name)
    if matched is None or name.endswith(DEAD_LETTER_SUFFIX):  # a channel's DLQ is no channel's queue
        raise ValueError(f"queue {name!r} is not a channel's intake queue (oms-<env>-intake-<channel>)")
    suffix = "amazonaws.com.cn" if parts[1] == "aws-cn" else "amazonaws.com"
    # The documented queue URL: SQS's JSON protocol takes it as a parameter, so it names the
    # queue wherever the client's endpoint is (locally too); no GetQueueUrl round trip.
    return FeedQueue(channel=matched["channel"], dead_letter_url=f"https://sqs.{region}.{suffix}/{account}/{name}{DEAD_LETTER_SUFFIX}")


#: How much of a message refused whole its dead letter holds (UTF-8 bytes). The whole of it
#: (up to SQS's 256 KiB) plus the letter's own members could not be sent to the DLQ; 64 KB
#: shows what was wrong with it, and the sender keeps the original.
MAX_DEAD_LETTER_MESSAGE = 64 * 1024
#: A dead letter is one SQS message (at most 256 KiB): past this size an order's letter carries
#: the order's start instead (``DeadLetter.body``), with its first errors.
MAX_DEAD_LETTER = 240 * 1024
MAX_DEAD_LETTER_ERRORS = 100


def _json_text(value: Any) -> str:
    """As the DLQ adapter writes it: compact UTF-8 JSON."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _utf8_size(value: Any) -> int:
    return len(_json_text(value).encode("utf-8"))


@dataclass(frozen=True)
class DeadLetter:
    """What the DLQ receives for one refused order (or a whole message that holds none)."""

    idempotency_key: str | None
    order: Any
    errors: tuple[FieldError, ...]
    #: The message as received, when it could not be read as orders at all.
    message: str | None = None
    #: ``message`` is already only the start of the message (a dead letter of one, read again).
    message_truncated: bool = False

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"idempotency_key": self.idempotency_key, "order": self.order,
                               "errors": [{"field": e.field, "message": e.message} for e in self.errors]}
        if self.order is not None and _utf8_size(out) > MAX_DEAD_LETTER:
            # the order and its errors do not fit in one SQS message: its start as text (as a
            # message refused whole) and its first errors; the sender keeps the original
            too_large = FieldError("order", "is too large for its dead letter with its errors: its first "
                                            f"{MAX_DEAD_LETTER_MESSAGE // 1024} KB are in message")
            return DeadLetter(self.idempotency_key, None, (*self.errors[:MAX_DEAD_LETTER_ERRORS], too_large),
                              message=_json_text(self.order), message_truncated=True).body()
        if self.message is not None:
            encoded = self.message.encode("utf-8")
            if self.message_truncated or len(encoded) > MAX_DEAD_LETTER_MESSAGE:
                # cut on a character's boundary
                out["message"] = encoded[:MAX_DEAD_LETTER_MESSAGE].decode("utf-8", errors="ignore")
                out["message_truncated"] = True
            else:
                out["message"] = self.message
        return out


@dataclass(frozen=True)
class FeedOrder:
    """One entry of a feed message as its edge read it: the command to capture, or why not."""

    idempotency_key: str | None
    #: The order as sent (``channel`` members left out): the request its key stands for.
    order: Any
    command: NewOrder | None
    errors: tuple[FieldError, ...] = ()


@dataclass(frozen=True)
class FeedMessage:
    orders: tuple[FeedOrder, ...] = ()
    #: Set when the message as a whole is refused (not JSON, no ``orders`` list, …).
    refused: DeadLetter | None = None


@dataclass
class FeedOutcome:
    captured: list[str] = field(default_factory=list)  # order ids
    replayed: list[str] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


class RetryFeedMessage(TransientError):
    """Some order of the message could not be captured now; the record is delivered again."""


class _InProgress(Exception):
    """A concurrent capture holds this key: worth another delivery."""


@dataclass
class FeedIntake:
    capture: CaptureService
    dead_letter_queue: DeadLetterQueue

    def take(self, queue: FeedQueue, message: FeedMessage) -> FeedOutcome:
        """Capture every order of ``message`` for the queue's channel; dead-letter the refused
        ones once nothing else of the message is left to retry."""
        outcome = FeedOutcome()
        if message.refused is not None:
            outcome.dead_letters.append(message.refused)
        retry: Exception | None = None
        for entry in message.orders:
            try:
                self._one(queue.channel, entry, outcome)
            except (TransientError, _InProgress) as exc:
                retry = retry or exc
        if retry is not None:
            raise RetryFeedMessage(f"{len(message.orders)} orders for {queue.channel}: {retry}") from retry
        if outcome.dead_letters:
            self.dead_letter_queue.send(queue.dead_letter_url, [d.body() for d in outcome.dead_letters])
        return outcome

    def _one(self, channel: str, entry: FeedOrder, outcome: FeedOutcome) -> None:
        def refuse(*errors: FieldError) -> None:
            outcome.dead_letters.append(DeadLetter(entry.idempotency_key, entry.order, errors))

        if entry.idempotency_key is None:
            refuse(*entry.errors)
            return
        try:
            if entry.command is None:
                # refused for its shape: the key is checked first, as POST /orders does (a key
                # already used answers: a replay of its order, or a conflict)
                held = self.capture.answer_held_key(Principal(role="channel", principal_id=channel),
                                                    entry.idempotency_key, entry.order)
                if held is None:
                    refuse(*entry.errors)
                    return
                result = held
            else:
                result = self.capture.capture_request(entry.command, channel, entry.idempotency_key, entry.order)
        except DuplicateOrder as exc:  # the API's 409: another order already has this channel_order_id
            refuse(FieldError("channel_order_id", f"was already captured as order {exc.existing_order_id}"))
        except Conflict as exc:
            if isinstance(exc.__cause__, CaptureInProgress):  # a concurrent capture with this key: retry
                raise _InProgress(str(exc)) from exc
            refuse(FieldError("idempotency_key", "was already used with a different order"))
        except ValidationFailed as exc:  # the API's 422: a business rule (amounts, payment, credit)
            refuse(*exc.errors)
        except DomainError as exc:
            refuse(*(exc.errors or [FieldError("order", exc.detail)]))
        else:
            (outcome.replayed if result.replayed else outcome.captured).append(result.order.order_id)


def channel_free(value: Any, *, max_depth: int) -> Any:
    """``value`` without any ``channel`` member at any depth (the channel is the queue's).
    Raises ``ValueError`` beyond ``max_depth`` levels of nesting (walked without recursion)."""
    root: list[Any] = [None]
    todo: list[tuple[Any, list[Any] | dict[str, Any], Any, int]] = [(value, root, 0, 0)]
    while todo:
        item, parent, slot, depth = todo.pop()
        if depth > max_depth:
            raise ValueError(f"is nested more than {max_depth} levels deep")
        if isinstance(item, dict):
            copy: dict[str, Any] = {}
            parent[slot] = copy
            for k, v in item.items():
                if k != "channel":
                    copy[k] = None
                    todo.append((v, copy, k, depth + 1))
        elif isinstance(item, list):
            items: list[Any] = [None] * len(item)
            parent[slot] = items
            todo.extend((v, items, i, depth + 1) for i, v in enumerate(item))
        else:
            parent[slot] = item
    return root[0]
