"""Customer notices: the right words, in the customer's language, once per event."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from functions.capture.capturing import CaptureService
from functions.core.adapters.keys import NOTICE_PREFIX, order_notice_key
from functions.core.notices import inapplicable
from functions.core.orders import OrderStatus, Shipment, ShipmentLine, ShipmentStatus, TimelineEntry
from functions.notify.handlers.stream import notice_for
from functions.notify.notices import NoticeService
from functions.notify.ports import Claim
from functions.notify.templates import render
from tests.unit.fakes import FakeOrderStore
from tests.unit.test_capture_logic import ORDER, WEBSHOP, body


class Notices:
    """The notice table's conditions in memory: a claim per notice, a withdrawn channel claimable
    again, a notice marked superseded (as a cancel marks it) claimed only as skipped."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.marks: dict[tuple[str, str], str] = {}
        self.timeline: list[TimelineEntry] = []
        self.writes = 0

    def supersede(self, order_id: str, kind: str, reason: str = "order cancelled") -> None:
        """The mark a transition writes, on the key it writes it (``order_notice_key``): the
        claim notify makes must land on that very key for the mark to refuse it."""
        self.marks[(order_id, order_notice_key(order_id, kind)["SK"].removeprefix(NOTICE_PREFIX))] = reason

    def claim(self, order_id: str, notice_id: str, kind: str, channels: dict[str, dict[str, Any]],
              inapplicable: str | None = None, claimant: str | None = None) -> Claim:
        self.writes += 1
        key = (order_id, notice_id)
        reason = inapplicable or self.marks.get(key)
        held = self.records.get(key)
        if held is None:
            status = "SKIPPED" if reason else "SENDING"
            self.records[key] = {c: {**r, "status": status} for c, r in channels.items()}
            if reason:
                return Claim(skip=frozenset(channels), reason=reason)
            return Claim(send=frozenset(channels))
        again = {c for c in channels if held.get(c, {}).get("status") == "WITHDRAWN"}
        resent = {c for c in again if held[c].get("unconfirmed")}
        for c in again:
            held[c] = {**channels[c], "status": "SKIPPED" if reason else "SENDING",
                       **({"unconfirmed": True} if c in resent else {})}
        if reason:
            return Claim(skip=frozenset(again), reason=reason)
        return Claim(send=frozenset(again), resent=frozenset(resent))

    def record(self, order_id: str, notice_id: str, results: dict[str, tuple[str, str | None]],
               entries: list[TimelineEntry]) -> None:
        self.writes += 1
        for channel, (status, _) in results.items():
            held = self.records[(order_id, notice_id)][channel]
            held["status"] = "WITHDRAWN" if status == "UNCONFIRMED" else status
            if status == "UNCONFIRMED":
                held["unconfirmed"] = True
        self.timeline += entries


class Outbox:
    def __init__(self, fail: int = 0) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = fail

    def send(self, **message: Any) -> str:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("SES throttled")
        self.sent.append(message)
        return f"msg-{len(self.sent)}"


def service_for(phone: str | None = "+4915112345678", locale: str = "en-GB", fail: int = 0
                ) -> tuple[NoticeService, str, Outbox, Outbox, Notices]:
    store = FakeOrderStore()
    order = CaptureService(store=store).capture(body(customer={**ORDER["customer"], "phone": phone,
                                                               "locale": locale}), WEBSHOP)
    shipment = Shipment("shp_1", order.order_id, "DC-BERLIN", ShipmentStatus.DISPATCHED,
                        (ShipmentLine("1", "SKU-RED-MUG", 2),), "2026-11-23T10:00:00.000Z", "DHL", "00340434")
    store.orders[order.order_id] = replace(store.orders[order.order_id], shipments=(shipment,))
    mail, sms, notices = Outbox(fail), Outbox(), Notices()
    svc = NoticeService(orders=store, store=notices, mailer=mail, texter=sms, sender="orders@acme.example")
    return svc, order.order_id, mail, sms, notices


def test_dispatch_notice_is_one_email_and_one_sms_with_the_tracking_number_even_when_redelivered() -> None:
    svc, order_id, mail, sms, notices = service_for()
    svc.notify(order_id, "shipment_dispatched", "shp_1")
    again = svc.notify(order_id, "shipment_dispatched", "shp_1")
    assert [r["result"] for r in again] == ["already", "already"]
    (email,) = mail.sent
    (text,) = sms.sent
    assert email["to"] == "ada@example.com" and email["sender"] == "orders@acme.example"
    assert "00340434" in email["text"] and "DHL" in email["subject"] + email["text"]
    assert text["to"] == "+4915112345678" and "00340434" in text["text"]
    assert email["tags"] == {"order_id": order_id, "kind": "shipment_dispatched"}
    assert [e.event for e in notices.timeline] == ["NoticeSent", "NoticeSent"]


def test_no_phone_means_no_sms_and_the_timeline_says_so() -> None:
    svc, order_id, mail, sms, notices = service_for(phone=None)
    svc.notify(order_id, "shipment_dispatched", "shp_1")
    assert len(mail.sent) == 1 and sms.sent == []
    assert [e.event for e in notices.timeline] == ["NoticeSent", "NoticeSkipped"]


def test_german_customers_get_german_notices() -> None:
    svc, order_id, mail, _, _ = service_for(locale="de-DE")
    svc.notify(order_id, "order_confirmed")
    assert mail.sent[0]["subject"].startswith("Ihre Bestellung") and "Summe: 35.58 EUR" in mail.sent[0]["text"]


def test_a_failed_send_is_sent_on_the_retry_not_lost() -> None:
    svc, order_id, mail, _, _ = service_for(fail=1)
    with pytest.raises(ConnectionError):
        svc.notify(order_id, "order_cancelled")
    svc.notify(order_id, "order_cancelled")
    assert len(mail.sent) == 1


def test_dispatch_email_and_sms_are_claimed_and_recorded_in_one_write_each() -> None:
    svc, order_id, mail, sms, notices = service_for()
    svc.notify(order_id, "shipment_dispatched", "shp_1")
    assert len(mail.sent) == len(sms.sent) == 1 and notices.writes == 2


def test_when_only_the_sms_fails_the_retry_sends_only_the_sms() -> None:
    svc, order_id, mail, sms, notices = service_for()
    sms.fail = 1
    with pytest.raises(ConnectionError):
        svc.notify(order_id, "shipment_dispatched", "shp_1")
    assert len(mail.sent) == 1 and sms.sent == []
    again = svc.notify(order_id, "shipment_dispatched", "shp_1")
    assert {r["channel"]: r["result"] for r in again} == {"email": "already", "sms": "sent"}
    assert len(mail.sent) == len(sms.sent) == 1
    assert [e.event for e in notices.timeline] == ["NoticeSent", "NoticeSent"]


def test_html_body_escapes_customer_text() -> None:
    rendered = render("order_confirmed", "en", {"name": "<script>x</script>", "reference": "R", "lines": "",
                                                 "total": "1.00", "currency": "EUR"})
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html


@pytest.mark.parametrize(("new", "old", "expected"), [
    ({"SK": "SHIPMENT#shp_1", "status": "DISPATCHED", "order_id": "o", "shipment_id": "shp_1"},
     {"status": "REQUESTED"}, ("o", "shipment_dispatched", "shp_1")),
    ({"SK": "ORDER", "status": "CANCELLED", "order_id": "o"}, {"status": "IN_FULFILLMENT"},
     ("o", "order_cancelled", None)),
    ({"SK": "ORDER", "status": "CANCELLED", "order_id": "o"}, {"status": "CANCELLED"}, None),
    ({"SK": "SHIPMENT#shp_1", "status": "CANCELLED", "order_id": "o", "shipment_id": "shp_1"},
     {"status": "REQUESTED"}, None),
])
def test_stream_changes_that_call_for_a_notice(new: dict[str, Any], old: dict[str, Any], expected: Any) -> None:
    assert notice_for(new, old) == expected


def test_a_confirmation_whose_claim_a_cancel_marked_is_never_sent_and_the_timeline_says_why() -> None:
    # Given the order read as confirmed, but cancelled before notify claims its confirmation
    svc, order_id, mail, _, notices = service_for()
    notices.supersede(order_id, "order_confirmed")
    # When the confirmation is sent, and the event delivered again
    results = svc.notify(order_id, "order_confirmed")
    again = svc.notify(order_id, "order_confirmed")
    # Then no email went out, and one NoticeSkipped names the cancel
    assert mail.sent == [] and results == [{"channel": "email", "result": "skipped"}]
    assert again == [{"channel": "email", "result": "already"}]
    (skipped,) = notices.timeline
    assert skipped.event == "NoticeSkipped" and skipped.detail == {
        "kind": "order_confirmed", "channel": "email", "reason": "order cancelled"}


def test_a_withdrawn_confirmation_is_not_retried_after_a_cancel() -> None:
    svc, order_id, mail, _, notices = service_for(fail=1)
    with pytest.raises(ConnectionError):
        svc.notify(order_id, "order_confirmed")
    notices.supersede(order_id, "order_confirmed")
    assert svc.notify(order_id, "order_confirmed") == [{"channel": "email", "result": "skipped"}]
    assert mail.sent == [] and [e.event for e in notices.timeline] == ["NoticeSkipped"]


def test_an_order_read_past_a_notice_is_not_told_it() -> None:
    # Given a backordered order whose stock arrived before its backorder notice went out
    svc, order_id, mail, _, notices = service_for()
    store = svc.orders
    store.orders[order_id] = replace(store.orders[order_id], status=OrderStatus.IN_FULFILLMENT)  # type: ignore[attr-defined]
    assert svc.notify(order_id, "order_backordered") == [{"channel": "email", "result": "skipped"}]
    assert mail.sent == [] and notices.timeline[0].detail["reason"] == "order is IN_FULFILLMENT"
    # while the notices that still apply go out
    assert svc.notify(order_id, "order_confirmed") == [{"channel": "email", "result": "sent"}]


@pytest.mark.parametrize(("kind", "status", "expected"), [
    ("order_confirmed", OrderStatus.IN_FULFILLMENT, None),
    ("order_confirmed", OrderStatus.SHIPPED, None),
    ("order_confirmed", OrderStatus.CANCELLED, "order cancelled"),
    ("order_backordered", OrderStatus.BACKORDERED, None),
    ("order_backordered", OrderStatus.IN_FULFILLMENT, "order is IN_FULFILLMENT"),
    ("order_backordered", OrderStatus.CANCELLED, "order cancelled"),
    ("shipment_dispatched", OrderStatus.SHIPPED, None),
    ("order_cancelled", OrderStatus.CANCELLED, None),
])
def test_which_states_each_notice_applies_to(kind: str, status: OrderStatus, expected: str | None) -> None:
    assert inapplicable(kind, status) == expected


class AnswerLost(Outbox):
    """The provider accepted the message; its answer never came back."""

    def send(self, **message: Any) -> str:
        from functions.notify.ports import SendUnconfirmed

        self.sent.append(message)
        raise SendUnconfirmed("SES: ReadTimeoutError")


def test_a_send_whose_answer_was_lost_is_sent_once_more_and_never_a_third_time() -> None:
    from functions.notify.ports import SendUnconfirmed

    svc, order_id, _, sms, notices = service_for()
    lost = AnswerLost()
    svc.mailer = lost
    # the email may have gone out: withdrawn, and the event retried (the SMS went out, confirmed)
    with pytest.raises(SendUnconfirmed):
        svc.notify(order_id, "shipment_dispatched", "shp_1")
    # the retry sends the email again; its answer is lost too: now it counts as sent
    again = svc.notify(order_id, "shipment_dispatched", "shp_1")
    assert {r["channel"]: r["result"] for r in again} == {"email": "sent", "sms": "already"}
    # and a third delivery sends nothing: at most twice
    third = svc.notify(order_id, "shipment_dispatched", "shp_1")
    assert [r["result"] for r in third] == ["already", "already"]
    assert len(lost.sent) == 2 and len(sms.sent) == 1
    sent = [e for e in notices.timeline if e.event == "NoticeSent" and e.detail["channel"] == "email"]
    assert [e.detail.get("confirmed") for e in sent] == [False]


def test_a_retry_after_a_lost_answer_that_is_confirmed_is_sent_twice_in_all() -> None:
    from functions.notify.ports import SendUnconfirmed

    svc, order_id, mail, _, notices = service_for()
    svc.mailer = AnswerLost()
    with pytest.raises(SendUnconfirmed):
        svc.notify(order_id, "order_confirmed")
    svc.mailer = mail
    assert [r["result"] for r in svc.notify(order_id, "order_confirmed")] == ["sent"]
    assert len(mail.sent) == 1 and [e.event for e in notices.timeline] == ["NoticeSent"]


def test_senders_tell_a_lost_answer_from_a_throttle_and_a_refusal() -> None:
    from botocore.exceptions import ClientError, ReadTimeoutError

    from functions.core.errors import TransientError
    from functions.notify.adapters.senders import SnsTexter
    from functions.notify.ports import SendUnconfirmed

    class Sns:
        def __init__(self, error: Exception) -> None:
            self.error = error

        def publish(self, **_: Any) -> dict[str, Any]:
            raise self.error

    def throttled(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "slow down"}}, "Publish")

    with pytest.raises(SendUnconfirmed):
        SnsTexter(Sns(ReadTimeoutError(endpoint_url="https://sns"))).send(to="+49", text="t", tags={})
    with pytest.raises(TransientError):
        SnsTexter(Sns(throttled("Throttling"))).send(to="+49", text="t", tags={})
    with pytest.raises(ClientError):
        SnsTexter(Sns(throttled("InvalidParameter"))).send(to="+49", text="t", tags={})


def test_a_record_refused_by_a_busy_table_is_written_again_and_the_message_is_sent_once() -> None:
    from functions.core.errors import TransientError

    class Busy(Notices):
        """The table throttles the first write of each record."""

        failed = False

        def record(self, *args: Any, **kwargs: Any) -> None:
            if not self.failed:
                self.failed = True
                raise TransientError("throttled")
            super().record(*args, **kwargs)

    svc, order_id, mail, sms, _ = service_for()
    svc.store = busy = Busy()
    svc.pause = lambda seconds: None
    results = svc.notify(order_id, "shipment_dispatched", "shp_1")
    assert [r["result"] for r in results] == ["sent", "sent"]
    assert len(mail.sent) == 1 and len(sms.sent) == 1
    assert [e.event for e in busy.timeline] == ["NoticeSent", "NoticeSent"]
    assert [r["result"] for r in svc.notify(order_id, "shipment_dispatched", "shp_1")] == ["already", "already"]


# -- return notices -----------------------------------------------------------------------------

def _with_return_and_refund(store_order: Any, method: str = "card") -> Any:
    from decimal import Decimal

    from functions.core.invoices import CreditNote, RefundStatus
    from functions.core.orders import OrderLine
    from functions.core.returns import Return, ReturnLine, ReturnOutcome, ReturnReason, ReturnStatus

    at = "2026-11-25T10:00:00.000Z"
    ret = Return(return_id=f"ret_{store_order.order_id[4:]}-1", rma_number="RMA-X1", order_id=store_order.order_id,
                 channel="webshop", status=ReturnStatus.REFUNDED, outcome=ReturnOutcome.REFUND,
                 lines=(ReturnLine("1", "SKU-RED-MUG", 1, ReturnReason.DAMAGED),), return_to_node="DC-BERLIN",
                 return_to_address={"name": "ACME Returns", "line1": "Lagerstr. 1", "postal_code": "10115",
                                    "city": "Berlin", "country": "DE"}, created_at=at, updated_at=at)
    note = CreditNote("CN-2026-000042", store_order.order_id, ret.return_id, "R1", "INV-2026-000001", "ACME-DE", "EUR",
                      at, (OrderLine("1", "SKU-RED-MUG", 1, Decimal("12.50"), "standard", Decimal("12.50"),
                                     Decimal("2.38")),), Decimal(0), Decimal(0), Decimal("12.50"), Decimal("2.38"),
                      Decimal("14.88"), RefundStatus.REFUNDED, "re_1", at)
    payment = replace(store_order.payment, method=method) if method != store_order.payment.method else \
        store_order.payment
    return replace(store_order, returns=(ret,), credit_notes=(note,), payment=payment)


@pytest.mark.parametrize(("locale", "words"), [("en-GB", ("RMA-X1", "Lagerstr. 1", "10115 Berlin")),
                                                ("de-DE", ("Rücksendenummer RMA-X1", "Lagerstr. 1", "10115 Berlin"))])
def test_an_authorised_return_tells_the_customer_the_rma_and_where_to_send_it(locale: str,
                                                                               words: tuple[str, ...]) -> None:
    svc, order_id, mail, sms, _ = service_for(locale=locale)
    store = svc.orders
    store.orders[order_id] = _with_return_and_refund(store.orders[order_id])  # type: ignore[attr-defined]
    return_id = store.orders[order_id].returns[0].return_id  # type: ignore[attr-defined]
    svc.notify(order_id, "return_authorized", return_id, "rec-1")
    svc.notify(order_id, "return_authorized", return_id, "rec-2")  # redelivered: nothing more
    (message,) = mail.sent
    assert all(w in message["text"] for w in words), message["text"]
    assert message["tags"] == {"order_id": order_id, "kind": "return_authorized"} and sms.sent == []


def test_a_refund_notice_names_the_amount_and_the_credit_note_once_per_note() -> None:
    svc, order_id, mail, _, _ = service_for(locale="de-AT")
    store = svc.orders
    store.orders[order_id] = _with_return_and_refund(store.orders[order_id])  # type: ignore[attr-defined]
    svc.notify(order_id, "refund_issued", "CN-2026-000042", "rec-1")
    svc.notify(order_id, "refund_issued", "CN-2026-000042", "rec-9")
    (message,) = mail.sent
    assert message["subject"].startswith("Ihre Erstattung") and "14.88 EUR" in message["text"]
    assert "Gutschrift CN-2026-000042" in message["text"] and "Zahlungsmittel" in message["text"]


def test_a_refund_on_account_says_it_was_credited() -> None:
    svc, order_id, mail, _, _ = service_for()
    store = svc.orders
    store.orders[order_id] = _with_return_and_refund(store.orders[order_id], "on_account")  # type: ignore[attr-defined]
    svc.notify(order_id, "refund_issued", "CN-2026-000042")
    (message,) = mail.sent
    assert "credited 14.88 EUR to your account" in message["text"]


def test_the_stream_asks_for_return_notices_only_when_the_return_is_new_or_the_note_just_refunded() -> None:
    ret = {"PK": "ORDER#ord_1", "SK": "RETURN#ret_1-1", "summary": {"return_id": "ret_1-1"}}
    assert notice_for(ret, {}, "INSERT") == ("ord_1", "return_authorized", "ret_1-1")
    assert notice_for(ret, ret, "MODIFY") is None  # received, refunded...: told once, at its authorisation
    note = {"PK": "ORDER#ord_1", "SK": "CREDITNOTE#ret_1-1#R1#INV-2026-000001",
            "summary": {"invoice_number": "CN-2026-000042", "gross": "14.88"}}
    refunded = {**note, "refunded_at": "2026-11-25T10:00:00.000Z"}
    assert notice_for(note, {}, "INSERT") is None
    assert notice_for(refunded, note, "MODIFY") == ("ord_1", "refund_issued", "CN-2026-000042")
    assert notice_for(refunded, refunded, "MODIFY") is None


def test_a_credit_note_of_nothing_sends_no_refund_email() -> None:
    note = {"PK": "ORDER#ord_1", "SK": "CREDITNOTE#ret_1-1#R1#INV-2026-000001",
            "summary": {"invoice_number": "CN-2026-000043", "gross": "0.00"}}
    assert notice_for({**note, "refunded_at": "2026-11-25T10:00:00.000Z"}, note, "MODIFY") is None
