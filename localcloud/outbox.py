"""``/_local/outbox`` and ``/_local/mail``: what the local SES and SNS accepted.

The messages are moto's own sent messages, read from its backends in this process (the one
that serves the emulator): every SES message (``ses_backends[…].sent_messages``, SESv2's
``SendEmail`` with its whole content kept by ``patches/ses_content.py``; a v1 or raw message
as moto keeps it) and every SMS that SNS ``Publish`` accepted for a phone number
(``sns_backends[…].sms_messages``), oldest first. A message sent twice shows twice.

Each is matched to the order and kind that notify recorded: by the provider's message id in
notify's notice record (``ORDER#<id>`` / ``NOTICE#…``, ``channels.<channel>.message_id``);
an email whose id no record holds (a send whose record was lost, or one sent around notify)
by the ``order_id`` / ``kind`` tags it carried, an SMS by the recipient and text a record
holds. Anything else shows with ``order_id`` and ``kind`` null. Filtered by order
(``?order_id=``, what tests poll), the records are one Query of that order's partition, so a
poll costs the same however full the table is; unfiltered, a Scan of the table — local only,
fine here and nowhere else.
"""

from __future__ import annotations

import email
import email.policy
import html
import json
from collections.abc import Iterator
from typing import Any

import boto3
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends
from werkzeug.wrappers import Request, Response

from functions.core.adapters.dynamodb import from_item
from functions.core.adapters.keys import NOTICE_PREFIX, order_pk
from localcloud.frontdoor import FrontDoor, register_local_route


def notice_records(table: str, order_id: str | None = None) -> list[dict[str, Any]]:
    """Every channel of every notice record notify wrote (of one order, when given):
    ``channel``, ``order_id``, ``kind``, ``message_id`` (None until sent) and what was sent
    (``to``, ``subject``, ``text``)."""
    ddb = boto3.client("dynamodb")
    kwargs: dict[str, Any] = {"TableName": table, "FilterExpression": "#t = :notice",
                              "ExpressionAttributeNames": {"#t": "type"},
                              "ExpressionAttributeValues": {":notice": {"S": "notice"}}}
    operation = "scan"
    if order_id:  # the order's own notice records: one Query of its partition
        operation = "query"
        kwargs.update(ConsistentRead=True, KeyConditionExpression="PK = :pk AND begins_with(SK, :notices)")
        kwargs["ExpressionAttributeValues"].update({":pk": {"S": order_pk(order_id)},
                                                    ":notices": {"S": NOTICE_PREFIX}})
    records: list[dict[str, Any]] = []
    for page in ddb.get_paginator(operation).paginate(**kwargs):
        for item in (from_item(i) for i in page.get("Items", [])):
            records += [{**record, "channel": channel, "order_id": item["order_id"], "kind": item.get("kind")}
                        for channel, record in (item.get("channels") or {}).items()]
    return records


def _backends(backends: Any) -> Iterator[Any]:
    for account in list(backends.values()):
        yield from list(account.values())


def _raw_parts(raw: str) -> tuple[str | None, str | None, str | None]:
    """Subject, text and html of a raw MIME message."""
    message = email.message_from_string(raw, policy=email.policy.default)
    parts: dict[str, str | None] = {}
    for kind in ("plain", "html"):
        part = message.get_body(preferencelist=(kind,))
        parts[kind] = part.get_content() if part is not None and part.get_content_subtype() == kind else None
    return message.get("Subject"), parts["plain"], parts["html"]


def accepted_emails() -> list[dict[str, Any]]:
    """Every message the local SES accepted, oldest first (within an account and region)."""
    emails: list[dict[str, Any]] = []
    for backend in _backends(ses_backends):
        for m in list(backend.sent_messages):
            accepted: dict[str, Any] | None = getattr(m, "accepted", None)
            if accepted is not None:  # SESv2 SendEmail (Simple), whole (patches/ses_content.py)
                subject, text, body, tags = accepted["subject"], accepted["text"], accepted["html"], accepted["tags"]
                to = list(m.destinations.get("ToAddresses", []))
            elif hasattr(m, "raw_data"):
                (subject, text, body), tags, to = _raw_parts(m.raw_data), {}, list(m.destinations)
            elif hasattr(m, "body"):  # SES v1 SendEmail: moto keeps one body
                subject, text, body, tags = m.subject, m.body, None, {}
                to = list(m.destinations.get("ToAddresses", []))
            else:  # templated messages: not sent by anything of ours
                continue
            emails.append({"message_id": m.id, "to": to, "from": m.source, "subject": subject, "text": text,
                           "html": body, "tags": tags})
    return emails


def accepted_sms() -> list[dict[str, Any]]:
    """Every SMS the local SNS accepted (``Publish`` to a phone number), oldest first."""
    return [{"message_id": message_id, "to": to, "text": text}
            for backend in _backends(sns_backends) for message_id, (to, text) in list(backend.sms_messages.items())]


def outbox(table: str, order_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
    records = notice_records(table, order_id)
    by_id = {r["message_id"]: r for r in records if r.get("message_id")}
    sms_by_content = {(r.get("to"), r.get("text")): r for r in records if r["channel"] == "sms"}
    emails = []
    for m in accepted_emails():
        record = by_id.get(m["message_id"]) or {k: m["tags"].get(k) for k in ("order_id", "kind")}
        emails.append({"to": m["to"], "from": m["from"], "subject": m["subject"], "text": m["text"],
                       "html": m["html"], "order_id": record.get("order_id"), "kind": record.get("kind")})
    sms = []
    for m in accepted_sms():
        record = by_id.get(m["message_id"]) or sms_by_content.get((m["to"], m["text"])) or {}
        sms.append({"to": m["to"], "text": m["text"], "order_id": record.get("order_id"),
                    "kind": record.get("kind")})
    if order_id:
        emails = [m for m in emails if m["order_id"] == order_id]
        sms = [m for m in sms if m["order_id"] == order_id]
    return {"emails": emails, "sms": sms}


def _outbox(request: Request, door: FrontDoor) -> Response:
    data = outbox(door.deployment.outputs["TableName"], request.args.get("order_id"))
    return Response(json.dumps(data), content_type="application/json")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _mail(request: Request, door: FrontDoor) -> Response:
    data = outbox(door.deployment.outputs["TableName"], request.args.get("order_id"))
    e = html.escape
    emails = "".join(
        f"<article><h2>{e(m['subject'] or '')}</h2><p class=meta>to {e(', '.join(m['to']))} · from "
        f"{e(m['from'] or '')} · {e(m['kind'] or 'no notice')} · order {e(m['order_id'] or 'unknown')}</p>"
        f"<iframe title=\"{e(m['subject'] or '')}\" srcdoc=\"{e(m['html'] or e(m['text'] or ''))}\"></iframe>"
        f"</article>"
        for m in reversed(data["emails"]))
    texts = "".join(f"<li><b>{e(m['to'])}</b> {e(m['text'])} <span class=meta>{e(m['kind'] or 'no notice')} · "
                    f"order {e(m['order_id'] or 'unknown')}</span></li>" for m in reversed(data["sms"]))
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>OMS local mail</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
article{{border:1px solid #ccc;border-radius:6px;padding:0 1rem 1rem;margin-bottom:1rem}}
iframe{{width:100%;height:14rem;border:1px solid #eee}}.meta{{color:#666;font-size:.85rem}}</style></head>
<body><h1>Local outbox</h1><p class=meta>{_count(len(data['emails']), 'email')}, {len(data['sms'])} SMS ·
what the local SES and SNS accepted · <a href="/_local/outbox">JSON</a></p><h2>SMS</h2>
<ul>{texts or '<li>none yet</li>'}</ul>
<h2>Email</h2>{emails or '<p>none yet</p>'}</body></html>"""
    return Response(page, content_type="text/html; charset=utf-8")


register_local_route("outbox", _outbox)
register_local_route("mail", _mail)
