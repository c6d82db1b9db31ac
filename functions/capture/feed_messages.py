"""The shape of a feed message (SQS), ``{"orders": [{"idempotency_key": "…", "order":
{…OrderIn…}}, …]}``, read into the use case's ``FeedMessage`` (feeds.py).

Its own module, not models.py: only the intake function loads it (the API function, which
imports models.py, pays nothing for the feed at its cold start)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from functions.capture.feeds import MAX_DEAD_LETTER_MESSAGE, DeadLetter, FeedMessage, FeedOrder, channel_free
from functions.capture.models import OrderIn
from functions.core.errors import FieldError
from functions.core.field_errors import field_errors

#: Deeper than any order (an order is 4 levels deep): refused before anything walks it.
MAX_FEED_DEPTH = 16
#: Orders one message may hold: a delivery must finish within the function's timeout (15 s,
#: infra/config.py), about 100 captures at a DynamoDB transaction each, with time to spare.
#: More (ten 256 KB messages could hold ~3,000) would time out, be redelivered whole and take
#: longer each time: such a message is refused whole.
MAX_FEED_ORDERS = 100

IdempotencyKeyText = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class FeedEntryIn(BaseModel):
    """One order of a feed message. Members other than these two are ignored (a ``channel``
    member included: the channel is the queue's)."""

    model_config = ConfigDict(extra="ignore")

    idempotency_key: IdempotencyKeyText
    order: OrderIn


def parse_feed_message(text: str) -> FeedMessage:
    """A feed message's body → its orders, each as a command or with its field errors; or the
    message refused whole (not JSON, too deep, no ``orders`` list). Never raises for bad input.

    A dead letter put back on its queue (``oms redrive``) is read again as what it holds: one
    order (``{"idempotency_key", "order", "errors"}``) or the message it refused (``message``)."""
    data, refused = _decode(text)
    if refused is None and _is_dead_letter(data):
        if isinstance(data.get("message"), str) and data.get("message_truncated") is True:
            # only the start of the message it refused: nothing to capture from
            why = FieldError("message", f"was truncated to its first {MAX_DEAD_LETTER_MESSAGE // 1024} KB in "
                                        "the dead letter: send the original message again")
            return FeedMessage(refused=DeadLetter(None, None, (why,), message=data["message"],
                                                  message_truncated=True))
        if isinstance(data.get("message"), str):  # the message it refused, read once more
            text = data["message"]
            data, refused = _decode(text)
        else:
            data = {"orders": [{"idempotency_key": data.get("idempotency_key"), "order": data.get("order")}]}
    if refused is not None:
        return FeedMessage(refused=DeadLetter(None, None, (refused,), message=text))
    if not isinstance(data, dict) or not isinstance(data.get("orders"), list):
        why = FieldError("orders", "is required: a list of {\"idempotency_key\", \"order\"}")
        return FeedMessage(refused=DeadLetter(None, None, (why,), message=text))
    if not data["orders"]:
        return FeedMessage(refused=DeadLetter(None, None, (FieldError("orders", "needs at least one entry"),),
                                              message=text))
    if len(data["orders"]) > MAX_FEED_ORDERS:
        return FeedMessage(refused=DeadLetter(None, None, (
            FieldError("orders", f"at most {MAX_FEED_ORDERS} orders per message"),), message=text))
    return FeedMessage(orders=tuple(_feed_order(entry) for entry in data["orders"]))


def _decode(text: str) -> tuple[Any, FieldError | None]:
    try:
        data = json.loads(text)
    except RecursionError:
        return None, FieldError("body", f"is nested more than {MAX_FEED_DEPTH} levels deep")
    except ValueError:
        return None, FieldError("body", "is not valid JSON")
    try:
        return channel_free(data, max_depth=MAX_FEED_DEPTH), None
    except ValueError as exc:
        return None, FieldError("body", str(exc))


def _is_dead_letter(data: Any) -> bool:
    return (isinstance(data, dict) and "orders" not in data and isinstance(data.get("errors"), list)
            and ("order" in data or "message" in data))


def _feed_order(entry: Any) -> FeedOrder:
    if not isinstance(entry, dict):
        return FeedOrder(None, entry, None, (FieldError("order", "each entry of orders is an object "
                                                                 "{\"idempotency_key\", \"order\"}"),))
    key = entry.get("idempotency_key")
    order = entry.get("order")
    try:
        parsed = FeedEntryIn.model_validate(entry)
    except ValidationError as exc:
        # fields as the API's 422 names them: within the order (``lines[0].quantity``)
        errors = field_errors(exc.errors(), within=("order",), default="order")
        return FeedOrder(key if isinstance(key, str) else None, order, None, tuple(errors))
    return FeedOrder(parsed.idempotency_key, order, parsed.order.to_command())
