"""``/_local/outbox`` and ``/_local/mail``: the customer notices the local stack sent.

moto keeps no message tags, so the notify capability records each notice (order, kind,
recipient, content) next to the order; these routes read those records (status SENT). Local
only: a Scan of the table is fine here and nowhere else.
"""

from __future__ import annotations

import html
import json
from typing import Any

import boto3
from werkzeug.wrappers import Request, Response

from functions.core.adapters.dynamodb import from_item
from localcloud.frontdoor import FrontDoor, register_local_route


def sent_notices(table: str, order_id: str | None = None) -> list[dict[str, Any]]:
    """Every message of every notice record whose channel status is SENT, oldest first (one
    entry per channel: ``channel``, ``kind``, ``order_id`` and what was sent)."""
    ddb = boto3.client("dynamodb")
    kwargs: dict[str, Any] = {"TableName": table, "FilterExpression": "#t = :notice",
                              "ExpressionAttributeNames": {"#t": "type"},
                              "ExpressionAttributeValues": {":notice": {"S": "notice"}}}
    if order_id:
        kwargs["FilterExpression"] += " AND order_id = :o"
        kwargs["ExpressionAttributeValues"][":o"] = {"S": order_id}
    messages: list[dict[str, Any]] = []
    for page in ddb.get_paginator("scan").paginate(**kwargs):
        for item in (from_item(i) for i in page.get("Items", [])):
            messages += [{**record, "channel": channel, "kind": item["kind"], "order_id": item["order_id"]}
                         for channel, record in (item.get("channels") or {}).items()
                         if record.get("status") == "SENT"]
    return sorted(messages, key=lambda n: str(n.get("at", "")))


def outbox(table: str, order_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
    notices = sent_notices(table, order_id)
    return {
        "emails": [{"to": [n["to"]], "from": n.get("sender"), "subject": n["subject"], "text": n["text"],
                    "html": n.get("html"), "order_id": n["order_id"], "kind": n["kind"], "at": n.get("at")}
                   for n in notices if n["channel"] == "email"],
        "sms": [{"to": n["to"], "text": n["text"], "order_id": n["order_id"], "kind": n["kind"], "at": n.get("at")}
                for n in notices if n["channel"] == "sms"],
    }


def _outbox(request: Request, door: FrontDoor) -> Response:
    data = outbox(door.deployment.outputs["TableName"], request.args.get("order_id"))
    return Response(json.dumps(data), content_type="application/json")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _mail(request: Request, door: FrontDoor) -> Response:
    data = outbox(door.deployment.outputs["TableName"], request.args.get("order_id"))
    e = html.escape
    emails = "".join(
        f"<article><h2>{e(m['subject'])}</h2><p class=meta>to {e(', '.join(m['to']))} · from {e(m['from'] or '')}"
        f" · {e(m['kind'])} · order {e(m['order_id'])} · {e(m['at'] or '')}</p>"
        f"<iframe title=\"{e(m['subject'])}\" srcdoc=\"{e(m['html'] or '')}\"></iframe></article>"
        for m in reversed(data["emails"]))
    texts = "".join(f"<li><b>{e(m['to'])}</b> {e(m['text'])} <span class=meta>{e(m['kind'])} · order "
                    f"{e(m['order_id'])}</span></li>" for m in reversed(data["sms"]))
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>OMS local mail</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
article{{border:1px solid #ccc;border-radius:6px;padding:0 1rem 1rem;margin-bottom:1rem}}
iframe{{width:100%;height:14rem;border:1px solid #eee}}.meta{{color:#666;font-size:.85rem}}</style></head>
<body><h1>Local outbox</h1><p class=meta>{_count(len(data['emails']), 'email')}, {len(data['sms'])} SMS ·
<a href="/_local/outbox">JSON</a></p><h2>SMS</h2><ul>{texts or '<li>none yet</li>'}</ul>
<h2>Email</h2>{emails or '<p>none yet</p>'}</body></html>"""
    return Response(page, content_type="text/html; charset=utf-8")


register_local_route("outbox", _outbox)
register_local_route("mail", _mail)
