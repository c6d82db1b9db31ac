"""SESv2 ``SendEmail`` keeps the whole message it accepted, as SES delivers it.

moto 5.2.5's ``SESV2Response.send_email`` hands the SES v1 backend only one body (the HTML
part when there is one, else the text) and drops ``EmailTags``, so the sent message it keeps
(``ses_backends[account][region].sent_messages``) cannot show the text part a customer's
mail client would show, nor the tags the message carried. This patch sends as before, then
puts the accepted ``Simple`` content (subject, text, html) and the tags on that same sent
message (``accepted``), found by the ``MessageId`` the call answered. The local outbox
(``localcloud/outbox.py``) reads the sent messages; nothing else changes.
"""

from __future__ import annotations

import json
from typing import Any

from moto.sesv2.responses import SESV2Response

_ORIGINAL = SESV2Response.send_email


def accepted_content(params: dict[str, Any]) -> dict[str, Any] | None:
    """Subject, text, html and tags of a ``Simple`` SendEmail request (None for any other)."""
    simple = (params.get("Content") or {}).get("Simple")
    if not simple:
        return None
    body = simple.get("Body") or {}
    return {"subject": (simple.get("Subject") or {}).get("Data"),
            "text": (body.get("Text") or {}).get("Data"), "html": (body.get("Html") or {}).get("Data"),
            "tags": {t["Name"]: t["Value"] for t in params.get("EmailTags") or []}}


def _send_email(self: SESV2Response) -> str:
    answer: str = _ORIGINAL(self)
    content = accepted_content(json.loads(self.body))
    if content is not None:
        message_id = json.loads(answer)["MessageId"]
        sent = self.sesv2_backend.core_backend.sent_messages
        for message in reversed(sent):  # the one just appended, unless another thread's came after
            if getattr(message, "id", None) == message_id:
                message.accepted = content
                break
    return answer


def install() -> None:
    SESV2Response.send_email = _send_email  # type: ignore[method-assign]
