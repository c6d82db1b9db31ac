"""Invoice rules and use cases (issue, settle, complete, flag, release the payment hold) on
in-memory stores: what finance and the customer would notice — amounts to the cent, gapless
numbers, one invoice and one capture per shipment however often a step runs."""

from __future__ import annotations

import itertools
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.capture.capturing import CaptureService
from functions.core.invoices import SETTLED, Invoice, PaymentStatus
from functions.core.orders import (
    Order,
    OrderStatus,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    TimelineEntry,
    shipment_id_for,
)
from functions.invoice.adapters.local_payments import LocalPaymentProvider
from functions.invoice.billing import bill, invoice_number
from functions.invoice.handlers import stream
from functions.invoice.invoicing import InvoiceRefused, InvoiceService
from functions.invoice.ports import Completion, OpenItem, PaymentDeclined, PaymentResult
from tests.unit.fakes import FakeOrderStore
from tests.unit.test_capture_logic import WEBSHOP, body

AT = "2026-11-23T10:00:00.000Z"


def order_with(lines: list[dict[str, Any]], parts: list[list[int]], *, payment: dict[str, Any] | None = None,
               dispatched: bool = True) -> Order:
    """A captured order whose line i ships ``parts[i][k]`` units in shipment k+1."""
    data: dict[str, Any] = {"lines": lines, "payment": payment or {
        "method": "card", "authorization_id": "auth_8xk2", "amount": "99999.00"}}
    credit = {("webshop", "C-42"): Decimal("100000")}
    order = CaptureService(store=FakeOrderStore(credit=credit)).capture(body(**data), WEBSHOP)
    count = max(len(p) for p in parts)
    shipments = []
    for k in range(count):
        shipment_lines = tuple(ShipmentLine(str(i + 1), lines[i]["sku"], p[k])
                               for i, p in enumerate(parts) if k < len(p) and p[k])
        if shipment_lines:
            shipments.append(Shipment(shipment_id=shipment_id_for(order.order_id, k + 1), order_id=order.order_id,
                                      node_id=f"N{k}", lines=shipment_lines, requested_at=AT,
                                      status=ShipmentStatus.DISPATCHED if dispatched else ShipmentStatus.REQUESTED))
    status = OrderStatus.SHIPPED if dispatched else OrderStatus.IN_FULFILLMENT
    return replace(order, status=status, shipments=tuple(shipments))


class FakeInvoiceStore:
    """The table's conditions, in memory: a counter per legal entity and year, one invoice per
    shipment, a settle once per invoice, COMPLETED only from SHIPPED with every invoice settled."""

    def __init__(self, *orders: Order) -> None:
        self.orders = {o.order_id: o for o in orders}
        self.counters: dict[tuple[str, int], int] = {}
        self.events: list[TimelineEntry] = []
        self.flags: set[tuple[str, str]] = set()
        self.released: list[str] = []
        self.credit_released: list[str] = []
        #: outcomes to return before really issuing (simulating lost races)
        self.races: list[str] = []
        self.settles_with_completion = 0
        self.flagged_invoices: list[str] = []
        self.completes = 0
        #: payment terms per (channel, customer) on account, how often they were read, the
        #: open items booked
        self.terms: dict[tuple[str, str], int] = {}
        self.terms_read = 0
        self.open_items: list[OpenItem] = []

    def get(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)

    def last_number(self, legal_entity: str, year: int) -> int:
        return self.counters.get((legal_entity, year), 0)

    def issue(self, order: Order, invoice: Invoice, sequence: int, entry: TimelineEntry) -> str:
        current = self.orders[order.order_id]
        if self.races:
            race = self.races.pop(0)
            if race == "number_taken":  # another order's invoice took this number meanwhile
                self.counters[(invoice.legal_entity, invoice.year)] = sequence
            return race
        if self.counters.get((invoice.legal_entity, invoice.year), 0) != sequence - 1:
            return "number_taken"
        if any(i.shipment_id == invoice.shipment_id for i in current.invoices):
            return "order_changed"  # the header's invoice count moved
        if len(current.invoices) != len(order.invoices):
            return "order_changed"
        self.counters[(invoice.legal_entity, invoice.year)] = sequence
        self.orders[order.order_id] = replace(current, invoices=(*current.invoices, invoice))
        self.events.append(entry)
        return "issued"

    def payment_terms(self, channel: str, customer_id: str) -> int | None:
        self.terms_read += 1
        return self.terms.get((channel, customer_id))

    def settle(self, invoice: Invoice, status: PaymentStatus, reference: str | None, at: str,
               entry: TimelineEntry | None, completion: Completion | None = None, *,
               open_item: OpenItem | None = None) -> str:
        current = self.orders[invoice.order_id]
        stored = next(i for i in current.invoices if i.invoice_number == invoice.invoice_number)
        if stored.settled_at:
            return "already"
        if completion is not None:
            self.settles_with_completion += 1
            before = sum(1 for i in current.invoices if i.payment_status in SETTLED)
            if current.status != OrderStatus.SHIPPED or before != completion.settled_before:
                completion = None  # the order moved since it was read: settle alone
        settled = replace(stored, payment_status=status, payment_reference=reference, settled_at=at)
        if open_item is not None:
            self.open_items.append(open_item)
            settled = replace(settled, open_amount=open_item.open_amount)
        self.orders[invoice.order_id] = replace(current, invoices=tuple(
            settled if i.invoice_number == invoice.invoice_number else i for i in current.invoices))
        if entry:
            self.events.append(entry)
        if completion is None:
            return "settled"
        self.orders[invoice.order_id] = self.orders[invoice.order_id].with_status(
            OrderStatus.COMPLETED, at=completion.entry.at)
        self.events.append(completion.entry)
        return "completed"

    def complete(self, order: Order, invoices: int, entry: TimelineEntry) -> bool:
        self.completes += 1
        current = self.orders[order.order_id]
        settled = sum(1 for i in current.invoices if i.payment_status in SETTLED)
        if current.status != OrderStatus.SHIPPED or settled != invoices:
            return False
        self.orders[order.order_id] = current.with_status(OrderStatus.COMPLETED, at=entry.at)
        self.events.append(entry)
        return True

    def flag(self, order_id: str, shipment_id: str, invoice_number: str | None, reason: str, error: str,
             entry: TimelineEntry) -> bool:
        if (order_id, shipment_id) in self.flags:
            return False
        self.flags.add((order_id, shipment_id))
        if invoice_number:
            self.flagged_invoices.append(invoice_number)
        if order_id in self.orders:
            current = self.orders[order_id]
            self.orders[order_id] = replace(current, finance_reviews=(
                *current.finance_reviews, {"shipment_id": shipment_id, "reason": reason}))
        self.events.append(entry)
        return True

    def resolve_flag(self, order_id: str, shipment_id: str, entry: TimelineEntry) -> bool:
        if (order_id, shipment_id) not in self.flags:
            return False
        self.flags.discard((order_id, shipment_id))  # open again to a later failure
        current = self.orders[order_id]
        self.orders[order_id] = replace(current, finance_reviews=tuple(
            f for f in current.finance_reviews if f["shipment_id"] != shipment_id))
        self.events.append(entry)
        return True

    def release_payment(self, order: Order, entry: TimelineEntry, *, credit: bool) -> bool:
        current = self.orders[order.order_id]
        if current.status != OrderStatus.CANCELLED or current.payment_released_at:
            return False
        self.orders[order.order_id] = replace(current, payment_released_at=entry.at)
        (self.credit_released if credit else self.released).append(order.order_id)
        self.events.append(entry)
        return True


class RecordingProvider(LocalPaymentProvider):
    def __init__(self) -> None:
        self.captures: list[dict[str, Any]] = []
        self.voids: list[dict[str, Any]] = []

    def capture(self, **kwargs: Any) -> PaymentResult:
        self.captures.append(kwargs)
        return super().capture(**kwargs)

    def void(self, **kwargs: Any) -> PaymentResult:
        self.voids.append(kwargs)
        return super().void(**kwargs)


def service_for(*orders: Order) -> tuple[InvoiceService, FakeInvoiceStore, RecordingProvider]:
    store, provider = FakeInvoiceStore(*orders), RecordingProvider()
    return InvoiceService(orders=store, store=store, payments=provider, legal_entity="ACME-DE", clock=lambda: AT,
                          pause=lambda _: None), store, provider


def names(store: FakeInvoiceStore) -> list[str]:
    return [e.event for e in store.events]


# -- amounts -------------------------------------------------------------------------------------

line_strategy = st.fixed_dictionaries({
    "quantity": st.integers(1, 7),
    "unit_price": st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99.99"), places=2).map(str),
    "tax_class": st.sampled_from(["standard", "reduced", "zero"]),
})


@settings(max_examples=150, deadline=None)
@given(st.lists(line_strategy, min_size=1, max_size=5), st.data())
def test_a_shipments_invoices_add_up_to_the_order_to_the_cent(lines: list[dict[str, Any]], data: Any) -> None:
    lines = [{**ln, "sku": f"SKU-{i}"} for i, ln in enumerate(lines)]
    parts = []
    for ln in lines:  # split each line's quantity over up to three shipments
        cut = sorted(data.draw(st.lists(st.integers(0, ln["quantity"]), max_size=2)))
        bounds = [0, *cut, ln["quantity"]]
        parts.append([b - a for a, b in itertools.pairwise(bounds)])
    order = order_with(lines, parts)
    invoices = [bill(order, s, number=f"INV-2026-{n:06d}", issued_at=AT, legal_entity="ACME-DE",
                     with_shipping=n == 1) for n, s in enumerate(order.shipments, start=1)]
    t = order.totals
    assert sum(i.net for i in invoices) == t.subtotal + t.shipping
    assert sum(i.tax for i in invoices) == t.tax
    assert sum(i.gross for i in invoices) == t.total
    for i in invoices:
        assert i.gross == i.net + i.tax and i.net >= 0 and i.tax >= 0
        assert all(ln.net == ln.unit_price * ln.quantity for ln in i.lines)


def test_shipping_is_billed_on_the_first_invoice_only() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"},
                        {"sku": "B", "quantity": 1, "unit_price": "5.00"}], [[1, 0], [0, 1]])
    first, second = order.shipments
    one = bill(order, second, number="INV-2026-000001", issued_at=AT, legal_entity="ACME-DE", with_shipping=True)
    two = bill(order, first, number="INV-2026-000002", issued_at=AT, legal_entity="ACME-DE", with_shipping=False)
    assert (one.shipping_net, one.net, one.tax) == (Decimal("4.90"), Decimal("9.90"), Decimal("1.88"))
    assert (two.shipping_net, two.net, two.tax) == (Decimal(0), Decimal("10.00"), Decimal("1.90"))


def test_invoice_numbers_have_the_year_and_six_digits() -> None:
    assert invoice_number(2026, 1) == "INV-2026-000001"
    assert invoice_number(2027, 999_999) == "INV-2027-999999"
    with pytest.raises(ValueError, match="outside"):
        invoice_number(2026, 1_000_000)


# -- IssueInvoice --------------------------------------------------------------------------------

def test_issuing_twice_gives_one_invoice_and_takes_one_number() -> None:
    order = order_with([{"sku": "A", "quantity": 2, "unit_price": "12.50"}], [[2]])
    service, store, _ = service_for(order)
    shipment_id = order.shipments[0].shipment_id
    first = service.issue(order.order_id, shipment_id)
    again = service.issue(order.order_id, shipment_id)
    assert first["invoice_number"] == again["invoice_number"] == "INV-2026-000001"
    assert (first["issued"], again["issued"]) == (True, False) and first["gross"] == "35.58"
    assert store.counters == {("ACME-DE", 2026): 1} and names(store) == ["InvoiceIssued"]


def test_numbers_are_consecutive_across_orders_and_a_lost_race_takes_the_next() -> None:
    orders = [order_with([{"sku": "A", "quantity": 1, "unit_price": "1.00"}], [[1]]) for _ in range(3)]
    service, store, _ = service_for(*orders)
    store.races = ["number_taken"]  # someone else took 000001 between our read and our write
    numbers = [service.issue(o.order_id, o.shipments[0].shipment_id)["invoice_number"] for o in orders]
    assert numbers == ["INV-2026-000002", "INV-2026-000003", "INV-2026-000004"]
    assert store.counters[("ACME-DE", 2026)] == 4


def test_after_losing_a_race_to_the_orders_other_invoice_shipping_is_not_billed_twice() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"},
                        {"sku": "B", "quantity": 1, "unit_price": "5.00"}], [[1, 0], [0, 1]])
    service, store, _ = service_for(order)
    one, two = order.shipments
    service.issue(order.order_id, one.shipment_id)
    # the second task read the order before the first invoice existed: the store says so
    store.races = ["order_changed"]
    service.issue(order.order_id, two.shipment_id)
    invoices = store.orders[order.order_id].invoices
    assert [i.shipping_net for i in invoices] == [Decimal("4.90"), Decimal(0)]
    assert sum(i.gross for i in invoices) == order.totals.total


def test_a_shipment_not_dispatched_or_unknown_is_not_invoiced() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "1.00"}], [[1]], dispatched=False)
    service, store, _ = service_for(order)
    with pytest.raises(InvoiceRefused, match="REQUESTED"):
        service.issue(order.order_id, order.shipments[0].shipment_id)
    with pytest.raises(InvoiceRefused, match="no shipment"):
        service.issue(order.order_id, "shp_nope-9")
    assert store.counters == {} and store.events == []


# -- SettleInvoice and completion ----------------------------------------------------------------

def test_settling_twice_captures_once_with_the_invoice_number_as_idempotency_key() -> None:
    order = order_with([{"sku": "A", "quantity": 2, "unit_price": "12.50"}], [[2]],
                       payment={"method": "card", "authorization_id": "auth_8xk2", "amount": "35.58"})
    service, store, provider = service_for(order)
    number = service.issue(order.order_id, order.shipments[0].shipment_id)["invoice_number"]
    first = service.settle(order.order_id, number)
    again = service.settle(order.order_id, number)
    assert (first["payment"], first["completed"]) == ("captured", True)
    assert (again["payment"], again["completed"]) == ("already", True)
    (capture,) = provider.captures
    assert capture == {"authorization_id": "auth_8xk2", "amount": Decimal("35.58"), "currency": "EUR",
                       "idempotency_key": number, "final": True}
    assert names(store) == ["InvoiceIssued", "PaymentCaptured", "OrderCompleted"]
    assert store.orders[order.order_id].status == OrderStatus.COMPLETED


def test_an_order_completes_when_its_last_shipment_is_invoiced_and_captured() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"},
                        {"sku": "B", "quantity": 1, "unit_price": "5.00"}], [[1, 0], [0, 1]])
    service, store, provider = service_for(order)
    one, two = order.shipments
    first = service.settle(order.order_id, service.issue(order.order_id, one.shipment_id)["invoice_number"])
    assert first["completed"] is False and store.orders[order.order_id].status == OrderStatus.SHIPPED
    second = service.settle(order.order_id, service.issue(order.order_id, two.shipment_id)["invoice_number"])
    assert second["completed"] is True
    assert [c["final"] for c in provider.captures] == [False, True]
    assert sum(c["amount"] for c in provider.captures) == order.totals.total


def test_the_last_settle_completes_the_order_in_the_same_write() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"},
                        {"sku": "B", "quantity": 1, "unit_price": "5.00"}], [[1, 0], [0, 1]])
    service, store, _ = service_for(order)
    one, two = order.shipments
    service.settle(order.order_id, service.issue(order.order_id, one.shipment_id)["invoice_number"])
    assert store.settles_with_completion == 0  # the other shipment's invoice was still open
    service.settle(order.order_id, service.issue(order.order_id, two.shipment_id)["invoice_number"])
    # the second settle carried the completion: no separate completion write was needed
    assert store.settles_with_completion == 1 and store.orders[order.order_id].status == OrderStatus.COMPLETED
    assert names(store).count("OrderCompleted") == 1 and store.completes == 1  # only the first run's try


def test_a_run_that_read_the_order_partially_shipped_still_completes_it_when_it_settles_last() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"},
                        {"sku": "B", "quantity": 1, "unit_price": "5.00"}], [[1, 0], [0, 1]])
    one, two = order.shipments
    # Given shipment 2 not yet dispatched when run 1 reads the order and issues its invoice
    store_order = replace(order, status=OrderStatus.PARTIALLY_SHIPPED,
                          shipments=(one, replace(two, status=ShipmentStatus.REQUESTED)))
    service, store, _ = service_for(store_order)
    read_by_run_1, invoice_1, _ = service._issue(order.order_id, one.shipment_id)
    # When shipment 2 is dispatched and run 2 invoices and settles it while run 1 captures
    store.orders[order.order_id] = replace(store.orders[order.order_id], status=OrderStatus.SHIPPED,
                                           shipments=order.shipments)
    assert service.invoice_shipment(order.order_id, two.shipment_id)["completed"] is False
    # Then run 1, settling last, completes the order although it read it PARTIALLY_SHIPPED
    _, completed = service._settle(read_by_run_1, invoice_1)
    assert completed or service._complete(read_by_run_1)
    assert store.orders[order.order_id].status == OrderStatus.COMPLETED
    assert names(store).count("OrderCompleted") == 1


def test_a_run_that_failed_after_settling_is_flagged_without_touching_the_invoice() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"},
                        {"sku": "B", "quantity": 1, "unit_price": "5.00"}], [[1, 0], [0, 1]])
    service, store, _ = service_for(order)
    one = order.shipments[0].shipment_id
    service.invoice_shipment(order.order_id, one)  # issued and settled; say the task then timed out
    result = service.flag(order.order_id, one, None, {"Error": "States.Timeout"})
    assert result["flagged"] is True and store.flagged_invoices == []  # a captured invoice is not FAILED


def test_a_stale_failure_after_the_order_completed_reopens_nothing() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"}], [[1]])
    service, store, _ = service_for(order)
    shipment_id = order.shipments[0].shipment_id
    assert service.invoice_shipment(order.order_id, shipment_id)["completed"] is True
    # a duplicate execution (Express runs at least once) that failed late reaches the Catch
    assert service.flag(order.order_id, shipment_id, None, {"Error": "States.Timeout"})["flagged"] is False
    assert store.flags == set() and "FinanceReviewRequired" not in names(store)


def test_two_settles_that_read_before_each_other_still_complete_the_order_once() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"},
                        {"sku": "B", "quantity": 1, "unit_price": "5.00"}], [[1, 0], [0, 1]])
    service, store, _ = service_for(order)
    numbers = [service.issue(order.order_id, s.shipment_id)["invoice_number"] for s in order.shipments]
    # Given both runs read the order before either settled (each sees the other invoice open)
    read = store.orders[order.order_id]
    store.get = lambda order_id: read  # type: ignore[method-assign]
    results = [service.settle(order.order_id, n) for n in numbers]
    # Then neither write carried a completion, and the completion write of the later run
    # (its condition: every invoice settled) completed the order, once
    assert store.settles_with_completion == 0
    assert [r["completed"] for r in results] == [False, True]
    assert names(store).count("OrderCompleted") == 1


def test_a_completion_that_no_longer_holds_settles_the_invoice_alone() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"}], [[1]])
    service, store, _ = service_for(order)
    number = service.issue(order.order_id, order.shipments[0].shipment_id)["invoice_number"]
    read = store.orders[order.order_id]
    store.get = lambda order_id: read  # type: ignore[method-assign]
    # Given the order was completed by someone else after it was read (e.g. an operator's re-run)
    store.orders[order.order_id] = read.with_status(OrderStatus.COMPLETED, at="2026-11-24T00:00:00.000Z")
    result = service.settle(order.order_id, number)
    # Then the payment is still recorded, and no second OrderCompleted is written
    assert result["payment"] == "captured" and store.settles_with_completion == 1
    assert store.orders[order.order_id].invoices[0].payment_status == PaymentStatus.CAPTURED
    assert "OrderCompleted" not in names(store)


def test_on_account_invoices_are_settled_without_a_capture() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"}], [[1]],
                       payment={"method": "on_account"})
    service, store, provider = service_for(order)
    number = service.issue(order.order_id, order.shipments[0].shipment_id)["invoice_number"]
    assert service.settle(order.order_id, number) == {"order_id": order.order_id, "invoice_number": number,
                                                      "payment": "on_account", "completed": True}
    assert provider.captures == [] and "PaymentCaptured" not in names(store)
    assert store.orders[order.order_id].invoices[0].payment_status == PaymentStatus.ON_ACCOUNT


def test_a_capture_above_the_authorisation_or_a_decline_is_refused_and_nothing_is_recorded() -> None:
    small = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"}], [[1]],
                       payment={"method": "card", "authorization_id": "auth_1", "amount": "99.00"})
    service, store, provider = service_for(small)
    number = service.issue(small.order_id, small.shipments[0].shipment_id)["invoice_number"]
    store.orders[small.order_id] = replace(store.orders[small.order_id], payment=replace(
        small.payment, amount=Decimal("5.00")))  # an authorisation smaller than the invoice
    with pytest.raises(PaymentDeclined, match="amount_exceeds_authorisation"):
        service.settle(small.order_id, number)
    assert provider.captures == []
    declined = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"}], [[1]],
                          payment={"method": "card", "authorization_id": "auth_decline_x", "amount": "99.00"})
    service, store, _ = service_for(declined)
    number = service.issue(declined.order_id, declined.shipments[0].shipment_id)["invoice_number"]
    with pytest.raises(PaymentDeclined, match="card_declined"):
        service.settle(declined.order_id, number)
    assert store.orders[declined.order_id].invoices[0].payment_status == PaymentStatus.PENDING
    assert store.orders[declined.order_id].status == OrderStatus.SHIPPED


def test_a_failed_run_flags_the_order_for_finance_once() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "1.00"}], [[1]])
    service, store, _ = service_for(order)
    shipment_id = order.shipments[0].shipment_id
    error = {"Error": "PaymentDeclined", "Cause": "card_declined: expired"}
    first = service.flag(order.order_id, shipment_id, "INV-2026-000001", error)
    again = service.flag(order.order_id, shipment_id, "INV-2026-000001", error)
    assert (first["flagged"], again["flagged"], first["reason"]) == (True, False, "PaymentDeclined")
    assert names(store) == ["FinanceReviewRequired"]


def test_a_declined_run_flags_the_invoice_it_issued_though_the_task_reported_none() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"}], [[1]],
                       payment={"method": "card", "authorization_id": "auth_decline_x", "amount": "99.00"})
    service, store, _ = service_for(order)
    shipment_id = order.shipments[0].shipment_id
    with pytest.raises(PaymentDeclined):
        service.invoice_shipment(order.order_id, shipment_id)  # issued, then the capture was declined
    # the workflow's Catch has no invoice number (the one task failed): the flag finds it
    service.flag(order.order_id, shipment_id, None, {"Error": "PaymentDeclined", "Cause": "card_declined"})
    (number,) = [i.invoice_number for i in store.orders[order.order_id].invoices]
    assert store.flagged_invoices == [number]


def test_one_task_issues_captures_and_completes_reading_the_order_once() -> None:
    order = order_with([{"sku": "A", "quantity": 2, "unit_price": "12.50"}], [[2]],
                       payment={"method": "card", "authorization_id": "auth_8xk2", "amount": "35.58"})
    service, store, provider = service_for(order)
    reads: list[str] = []
    real_get = store.get
    store.get = lambda order_id: (reads.append(order_id), real_get(order_id))[1]  # type: ignore[method-assign]
    result = service.invoice_shipment(order.order_id, order.shipments[0].shipment_id)
    assert (result["issued"], result["payment"], result["completed"]) == (True, "captured", True)
    assert reads == [order.order_id] and store.completes == 0  # completed with the settlement
    again = service.invoice_shipment(order.order_id, order.shipments[0].shipment_id)
    assert (again["issued"], again["payment"], again["completed"]) == (False, "already", True)
    assert len(provider.captures) == 1 and names(store) == ["InvoiceIssued", "PaymentCaptured", "OrderCompleted"]


def test_a_successful_re_run_takes_the_shipment_off_the_review_list_once() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"}], [[1]])
    service, store, provider = service_for(order)
    shipment_id = order.shipments[0].shipment_id
    # Given a run that failed and put the order on finance's list
    service.flag(order.order_id, shipment_id, None, {"Error": "TransientError", "Cause": "provider down"})
    assert store.orders[order.order_id].finance_reviews
    # When an operator re-runs it and it succeeds
    result = service.invoice_shipment(order.order_id, shipment_id)
    # Then the order is off the list, with the resolution in its timeline, once
    assert result["completed"] is True and store.orders[order.order_id].finance_reviews == ()
    service.invoice_shipment(order.order_id, shipment_id)
    assert names(store).count("FinanceReviewResolved") == 1 and len(provider.captures) == 1


# -- cancel: the payment hold ----------------------------------------------------------------------

def test_a_cancelled_card_order_has_its_authorisation_voided_once() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "1.00"}], [[1]], dispatched=False)
    service, store, provider = service_for(order)
    assert service.release_payment(order.order_id) == "nothing"  # not cancelled: nothing to release
    store.orders[order.order_id] = order.with_status(OrderStatus.CANCELLED, at=AT)
    assert service.release_payment(order.order_id) == "voided"
    assert service.release_payment(order.order_id) == "nothing"
    assert provider.voids == [{"authorization_id": order.payment.authorization_id,
                               "idempotency_key": f"void-{order.order_id}"}]
    assert names(store) == ["PaymentVoided"] and store.released == [order.order_id]


def test_a_cancelled_on_account_order_gives_the_credit_back() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "1.00"}], [[1]], dispatched=False,
                       payment={"method": "on_account"})
    service, store, provider = service_for(order)
    store.orders[order.order_id] = order.with_status(OrderStatus.CANCELLED, at=AT)
    assert service.release_payment(order.order_id) == "credit_released"
    assert provider.voids == [] and store.credit_released == [order.order_id]
    assert names(store) == ["CreditReleased"]


# -- the local provider ----------------------------------------------------------------------------

def test_local_provider_answers_a_repeat_as_the_first_and_declines_on_request() -> None:
    provider = LocalPaymentProvider()
    one = provider.capture(authorization_id="auth_1", amount=Decimal("1.00"), currency="EUR",
                           idempotency_key="INV-2026-000001", final=True)
    two = provider.capture(authorization_id="auth_1", amount=Decimal("1.00"), currency="EUR",
                           idempotency_key="INV-2026-000001", final=True)
    other = provider.capture(authorization_id="auth_1", amount=Decimal("1.00"), currency="EUR",
                             idempotency_key="INV-2026-000002", final=True)
    assert one == two and one.reference != other.reference and one.status == "captured"
    with pytest.raises(PaymentDeclined) as declined:
        provider.capture(authorization_id="auth_decline_1", amount=Decimal("1.00"), currency="EUR",
                         idempotency_key="k", final=True)
    assert declined.value.code == "card_declined"
    assert provider.void(authorization_id="auth_1", idempotency_key="v").status == "voided"


# -- the stream consumer: which change starts what ------------------------------------------------

def stream_record(event_name: str, new: dict[str, Any], old: dict[str, Any] | None = None) -> Any:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord


    return DynamoDBRecord(raw_record(event_name, new, old))


def raw_record(event_name: str, new: dict[str, Any], old: dict[str, Any] | None = None,
               sequence: int = 1) -> dict[str, Any]:
    from functions.core.adapters.dynamodb import to_item

    change: dict[str, Any] = {"NewImage": to_item(new), "StreamViewType": "NEW_AND_OLD_IMAGES",
                              "SequenceNumber": str(sequence)}
    if old is not None:
        change["OldImage"] = to_item(old)
    return {"eventID": str(sequence), "eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": change}


def test_stream_starts_invoicing_for_a_dispatch_and_publishes_finance_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[str, dict[str, Any]]] = []
    published: list[Any] = []

    class Starter:
        def start(self, name: str, payload: dict[str, Any]) -> str:
            started.append((name, payload))
            return "arn:execution"

    class Publisher:
        def publish(self, events: list[Any]) -> None:
            published.extend(events)

    queued: list[list[tuple[str, str]]] = []

    class Queue:
        def send(self, documents: list[tuple[str, str]]) -> None:
            queued.append(documents)

    monkeypatch.setattr(stream, "invoicing_starter", Starter)
    monkeypatch.setattr(stream, "finance_publisher", Publisher)
    monkeypatch.setattr(stream, "render_queue", Queue)
    shipment = {"PK": "ORDER#ord_1", "SK": "SHIPMENT#shp_1-2", "order_id": "ord_1", "shipment_id": "shp_1-2"}
    stream.record_handler(stream_record("MODIFY", {**shipment, "status": "DISPATCHED"}, {**shipment,
                                                                                          "status": "REQUESTED"}))
    # an invoice number written to the dispatched shipment later is no dispatch
    stream.record_handler(stream_record("MODIFY", {**shipment, "status": "DISPATCHED", "invoice_number": "X"},
                                        {**shipment, "status": "DISPATCHED"}))
    ((name, payload),) = started
    assert payload == {"order_id": "ord_1", "shipment_id": "shp_1-2"} and name.startswith("ord_1-inv2-")
    issued = {"id": "01ABC", "event": "InvoiceIssued", "at": "2026-11-23T10:00:00.000Z",
              "detail": {"invoice_number": "INV-2026-000001", "gross": "35.58"}}
    invoice = {"PK": "ORDER#ord_1", "SK": "INVOICE#INV-2026-000001", "timeline": [issued], "summary": {
        "invoice_number": "INV-2026-000001", "currency": "EUR", "net": "29.90", "tax": "5.68", "gross": "35.58",
        "payment_status": "PENDING", "payment_reference": None}}
    notice = {"PK": "ORDER#ord_1", "SK": "NOTICE#x", "timeline": [
        {"id": "01ABD", "event": "NoticeSent", "at": "2026-11-23T10:00:00.000Z", "detail": {}}]}
    captured = {"id": "01ABE", "event": "PaymentCaptured", "at": "2026-11-23T10:00:01.000Z", "detail": {}}
    completed = {"id": "01ABF", "event": "OrderCompleted", "at": "2026-11-23T10:00:01.000Z", "detail": {}}
    header = {"PK": "ORDER#ord_1", "SK": "ORDER", "order_id": "ord_1", "status": "SHIPPED", "timeline": []}
    batch = {"Records": [
        raw_record("INSERT", invoice, sequence=1),  # issued: the invoice with its first entry
        # a later write of the invoice that adds no finance entry (a review flag): nothing again
        raw_record("MODIFY", {**invoice, "payment_status": "FAILED"}, invoice, sequence=2),
        raw_record("MODIFY", notice, {**notice, "timeline": []}, sequence=3),  # no finance fact
        # a settlement: the invoice and the header, written in one transaction
        raw_record("MODIFY", {**invoice, "timeline": [issued, captured]}, invoice, sequence=4),
        raw_record("MODIFY", {**header, "status": "COMPLETED", "timeline": [completed]}, header, sequence=5),
    ]}
    calls: list[int] = []
    monkeypatch.setattr(Publisher, "publish", lambda self, events: (calls.append(len(events)),
                                                                     published.extend(events)))
    from tests.unit.test_http_errors import Context

    assert stream.lambda_handler(batch, Context()) == {"batchItemFailures": []}  # type: ignore[arg-type]
    assert calls == [3]  # the batch's finance events in one PutEvents
    # the invoice the batch issued is queued for rendering once, its later writes not again
    assert queued == [[("ord_1", "INV-2026-000001")]]
    assert [(e.name, e.event_id) for e in published] == [
        ("InvoiceIssued", "evt_01ABC"), ("PaymentCaptured", "evt_01ABE"), ("OrderCompleted", "evt_01ABF")]
    issued_event, captured_event, _ = published
    assert issued_event.source == "oms.invoice"
    # the invoice's numbers and amounts come with the events about it (the entries stay small)
    assert issued_event.data == {"order_id": "ord_1", "invoice_number": "INV-2026-000001", "currency": "EUR",
                                 "net": "29.90", "tax": "5.68", "gross": "35.58", "payment_status": "PENDING"}
    assert captured_event.data["amount"] == "35.58"
