"""What the notify use cases need from the outside world."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from functions.core.errors import TransientError
from functions.core.orders import TimelineEntry
from functions.core.ports import OrderReader

__all__ = ["Claim", "Mailer", "NoticeStore", "OrderReader", "Texter"]


@dataclass(frozen=True)
class Claim:
    """What a claim of a notice lets this call do: ``send`` these channels, or record ``skip``
    ones as skipped because the order left the states the notice applies to (``reason``).
    Neither: another delivery of the event has them (or had them)."""

    send: frozenset[str] = field(default_factory=frozenset)
    skip: frozenset[str] = field(default_factory=frozenset)
    reason: str | None = None
    #: of ``send``, the channels whose last send went out unconfirmed (its answer was lost): if
    #: this one is unconfirmed too, it is recorded as sent — a notice goes out at most twice
    resent: frozenset[str] = field(default_factory=frozenset)


class NoticeStore(Protocol):
    def claim(self, order_id: str, notice_id: str, kind: str, channels: dict[str, dict[str, Any]],
              inapplicable: str | None = None, claimant: str | None = None) -> Claim:
        """Claim the notice's channels in one conditional write. The condition also refuses a
        notice whose claim a transition marked inapplicable (a cancellation marks the order's
        confirmation): those channels come back in ``skip``. ``inapplicable`` (a reason): the
        order as read is past the notice already; its channels are claimed as skipped."""
        ...

    def record(self, order_id: str, notice_id: str, results: dict[str, tuple[str, str | None]],
               entries: list[TimelineEntry]) -> None: ...


class SendUnconfirmed(TransientError):
    """The provider may have accepted the message, but its answer was lost (the read timed out or
    the connection dropped after the request went out). SES and SNS take no idempotency key, so
    sending again could deliver it twice: the channel is withdrawn and the event retried (a
    TransientError, which the workflows retry), once — the retry's send is its last."""


class Mailer(Protocol):
    def send(self, *, sender: str, to: str, subject: str, text: str, html: str, tags: dict[str, str]) -> str: ...


class Texter(Protocol):
    def send(self, *, to: str, text: str, tags: dict[str, str]) -> str: ...
