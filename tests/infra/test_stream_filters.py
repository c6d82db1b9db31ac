"""The stream consumers' filters and their handlers agree: a change the handler acts on is let
in by the deployed filter (or it would never arrive), and the changes the handler ignores are
mostly kept out (filtered records are free). Checked on the synthesized template's patterns,
matched as Lambda matches them (EventBridge pattern syntax; moto's matcher, as the local cloud)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfn_template import function_by_handler, resources
from moto.events.models import EventPattern

from functions.core.adapters.dynamodb import to_item
from functions.notify.handlers.stream import notice_for

pytestmark = [pytest.mark.infra, pytest.mark.timeout(120)]

AT = "2026-11-25T10:00:00.000Z"
RETURN = {"PK": "ORDER#ord_1", "SK": "RETURN#ret_1-1", "type": "return", "status": "AUTHORIZED",
          "summary": {"return_id": "ret_1-1", "outcome": "REFUND", "receipts": []}}
RECEIVED = {**RETURN, "status": "RECEIVED", "summary": {**RETURN["summary"], "receipts": [{"receipt_id": "R1"}]}}
NOTE = {"PK": "ORDER#ord_1", "SK": "CREDITNOTE#ret_1-1#R1#INV-2026-000001", "type": "credit_note",
        "summary": {"invoice_number": "CN-2026-000001", "gross": "11.90"}}
REFUNDED_NOTE = {**NOTE, "refunded_at": AT}


def record(event_name: str, new: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, Any]:
    change: dict[str, Any] = {"NewImage": to_item(new)}
    if old is not None:
        change["OldImage"] = to_item(old)
    return {"eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": change}


def patterns(template: dict[str, Any], handler: str) -> list[EventPattern]:
    function_id, _ = function_by_handler(template, handler)
    (mapping,) = [m["Properties"] for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
                  if m["Properties"]["FunctionName"] == {"Ref": function_id}]
    return [EventPattern.load(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]


def let_in(found: list[EventPattern], rec: dict[str, Any]) -> bool:
    return any(p.matches_event(rec) for p in found)


CHANGES = [  # (event, new, old): the return and credit note writes of a return's life
    ("INSERT", RETURN, None),  # authorised
    ("MODIFY", RECEIVED, RETURN),  # received
    ("MODIFY", {**RECEIVED, "status": "REFUNDED"}, RECEIVED),  # settled
    ("INSERT", NOTE, None),  # credit note issued
    ("MODIFY", {**NOTE, "refund_claimed_at": AT}, NOTE),  # its refund claimed
    ("MODIFY", REFUNDED_NOTE, {**NOTE, "refund_claimed_at": AT}),  # refunded
    ("MODIFY", {**REFUNDED_NOTE, "summary": {**NOTE["summary"], "payment_status": "REFUNDED"}},
     REFUNDED_NOTE),  # a later write of the refunded note
]


def test_exists_rules_sit_on_a_type_leaf(env_template) -> None:
    # Lambda applies "exists" to leaves only: {"refunded_at": [{"exists": false}]} on a DynamoDB
    # image ({"refunded_at": {"S": ...}}) would always match on AWS, whatever moto does locally
    _, template = env_template

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, list):
            for rule in node:
                if isinstance(rule, dict) and "exists" in rule:
                    assert path[-1] in {"S", "N", "B", "BOOL", "M", "L", "SS", "NS"}, path
            return
        for key, value in node.items():
            walk(value, (*path, key))

    for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values():
        for f in (mapping["Properties"].get("FilterCriteria") or {}).get("Filters") or []:
            walk(json.loads(f["Pattern"]), ())


def test_notify_lets_in_every_return_change_it_sends_a_notice_for_and_no_other(env_template) -> None:
    _, template = env_template
    found = patterns(template, "functions.notify.handlers.stream.lambda_handler")
    for event_name, new, old in CHANGES:
        acts = notice_for(new, old or {}, event_name) is not None
        assert let_in(found, record(event_name, new, old)) is acts, (event_name, new, old)


def test_invoice_lets_in_receipts_and_every_credit_note_write(env_template) -> None:
    _, template = env_template
    found = patterns(template, "functions.invoice.handlers.stream.lambda_handler")
    assert let_in(found, record("MODIFY", RECEIVED, RETURN))  # start return_processing
    assert not let_in(found, record("INSERT", RETURN))  # an authorisation is not invoice's business
    for event_name, new, old in CHANGES[3:]:  # CreditNoteIssued, PaymentRefunded on its timeline
        assert let_in(found, record(event_name, new, old)), (event_name, new)


def test_invoice_lets_in_a_payment_received_on_an_invoice_and_publishes_it(env_template) -> None:
    # a payment's transaction appends PaymentReceived to the invoice's timeline (and moves its
    # open amount): the invoice stream must see that write and publish the entry it added
    from functions.core.adapters.timeline import added_entries
    from functions.invoice.finance_events import finance_facts

    _, template = env_template
    found = patterns(template, "functions.invoice.handlers.stream.lambda_handler")
    summary = {"invoice_number": "INV-2026-000007", "kind": "invoice", "currency": "EUR", "gross": "119.00",
               "payment_status": "ON_ACCOUNT", "open_amount": 119}
    booked = {"PK": "ORDER#ord_1", "SK": "INVOICE#INV-2026-000007", "type": "invoice", "summary": summary,
              "settled_at": AT, "timeline": []}
    entry = {"id": "01JPAYMENT", "event": "PaymentReceived", "at": AT, "detail": {
        "invoice_number": "INV-2026-000007", "amount": "19.00", "currency": "EUR", "payment_reference": "SEPA-1",
        "received_at": AT, "open_amount": "100.00"}}
    paid = {**booked, "summary": {**summary, "open_amount": 100}, "timeline": [entry]}
    assert let_in(found, record("MODIFY", paid, booked))
    (fact,) = finance_facts("ord_1", paid["summary"], added_entries(paid, booked))
    assert fact.name == "PaymentReceived" and fact.event_id == "evt_01JPAYMENT"
    assert {k: fact.data[k] for k in ("order_id", "invoice_number", "amount", "currency", "payment_reference",
                                      "received_at", "open_amount")} == {
        "order_id": "ord_1", "invoice_number": "INV-2026-000007", "amount": "19.00", "currency": "EUR",
        "payment_reference": "SEPA-1", "received_at": AT, "open_amount": "100.00"}
