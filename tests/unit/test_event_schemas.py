"""The finance events' JSON Schemas (schemas/events/): one per event of API.md "Finance", each a
valid draft 2020-12 schema that refuses what a consumer could not use. What the stack really
publishes is checked against them end to end (tests/e2e/test_finance_archive.py)."""

from __future__ import annotations

import copy

import pytest
from jsonschema import Draft202012Validator

from tests.event_schemas import event_types, problems, validator

API_FINANCE_EVENTS = ("CreditNoteIssued", "InvoiceIssued", "PaymentCaptured", "PaymentReceived", "PaymentRefunded",
                      "PaymentVoided")

ORDER = "ord_01JD5T0XQ8V2M6N4R3K7H9B1C0"
CAPTURED = {
    "metadata": {"event_id": "evt_01JD5T0XQ8V2M6N4R3K7H9B1C1", "occurred_at": "2026-11-23T10:00:01.000Z",
                 "version": "1", "correlation_id": ORDER},
    "data": {"order_id": ORDER, "invoice_number": "INV-2026-000001", "kind": "invoice", "shipment_id": "shp_1-1",
             "legal_entity": "ACME-DE", "issued_at": "2026-11-23T10:00:00.000Z", "currency": "EUR", "net": "14.90",
             "tax": "2.83", "gross": "17.73", "payment_status": "CAPTURED", "payment_reference": "pay_1",
             "amount": "17.73", "provider": "local", "authorization_id": "auth_1"},
}


def test_there_is_one_valid_schema_per_finance_event_of_the_api() -> None:
    assert event_types() == API_FINANCE_EVENTS
    for name in event_types():
        Draft202012Validator.check_schema(validator(name).schema)
        assert validator(name).schema["title"] == name


def test_a_published_capture_is_valid() -> None:
    assert problems("PaymentCaptured", CAPTURED) == []


@pytest.mark.parametrize(("change", "named"), [
    (lambda d: d["data"].pop("amount"), "'amount' is a required property"),
    (lambda d: d["data"].update(invoice_number="INV-26-1"), "data/invoice_number"),
    (lambda d: d["data"].update(gross=17.73), "data/gross"),  # amounts are text, never floats
    (lambda d: d["data"].update(surprise="x"), "Additional properties"),  # a new field goes into the schema
    (lambda d: d["metadata"].update(occurred_at="23.11.2026"), "metadata/occurred_at"),
    (lambda d: d.pop("metadata"), "'metadata' is a required property"),
])
def test_a_detail_a_consumer_could_not_rely_on_is_refused_naming_the_field(change, named) -> None:
    detail = copy.deepcopy(CAPTURED)
    change(detail)
    found = problems("PaymentCaptured", detail)
    assert found and any(named in p for p in found), found
