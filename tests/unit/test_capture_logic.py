"""Capture use cases on an in-memory store: what a channel sees when it sends, reads, cancels."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from functions.capture.cancellation import Cancellation
from functions.capture.capturing import CaptureService, DuplicateOrder, NewOrder
from functions.capture.models import OrderIn
from functions.capture.queries import OrderQueries
from functions.capture.workflow_start import WorkflowService
from functions.core.errors import BadRequest, Conflict, NotFound, ValidationFailed
from functions.core.events import utc_now
from functions.core.orders import CANCELLABLE, TRANSITIONS, CancelReason, OrderStatus
from functions.core.principal import Principal
from tests.samples import order_body
from tests.unit.fakes import FakeOrderStore

WEBSHOP = Principal("channel", "webshop")
MARKETPLACE = Principal("channel", "marketplace")
AGENT = Principal("agent", "agent-1")

ORDER: dict[str, Any] = order_body(channel_order_id="WEB-1001")


def body(**changes: Any) -> NewOrder:
    """The capture command for ``ORDER`` with ``changes``, as the API maps a valid body."""
    data = copy.deepcopy(ORDER)
    data.update(changes)
    return OrderIn.model_validate(data).to_command()


@dataclass
class Capture:
    """The capture capability's use cases over one store, as its API function wires them."""

    store: Any
    clock: Callable[[], str] = utc_now
    epoch: Callable[[], float] = time.time
    intake: CaptureService = field(init=False)
    queries: OrderQueries = field(init=False)
    cancellation: Cancellation = field(init=False)

    def __post_init__(self) -> None:
        self.intake = CaptureService(store=self.store, clock=self.clock, epoch=self.epoch)
        self.queries = OrderQueries(store=self.store, clock=self.clock)
        self.cancellation = Cancellation(store=self.store, clock=self.clock)
        self.capture, self.capture_once = self.intake.capture, self.intake.capture_once
        self.get, self.list, self.cancel = self.queries.get, self.queries.list, self.cancellation.cancel


@pytest.fixture
def service() -> Capture:
    return Capture(store=FakeOrderStore())


def test_captured_order_has_priced_lines_and_a_first_timeline_event(service: Capture) -> None:
    order = service.capture(body(), WEBSHOP)
    assert order.order_id.startswith("ord_") and order.status == OrderStatus.CAPTURED
    assert order.channel == "webshop" and order.totals.total == Decimal("35.58")
    assert [ln.line_id for ln in order.lines] == ["1"]
    stored = service.get(order.order_id, WEBSHOP)
    assert [e.event for e in stored.timeline] == ["OrderCaptured"]


def test_a_replay_answers_the_order_exactly_as_captured_even_after_it_moved_on() -> None:
    from dataclasses import replace

    from functions.capture.views import order_view

    store = FakeOrderStore()
    service = Capture(store=store, epoch=lambda: 1_000)
    first = service.capture_once(body(), WEBSHOP, "k-1", "hash-a")
    assert first.replayed is False
    # the order moves on (into fulfilment, say) before the client retries
    stored = store.orders[first.order.order_id]
    moved = stored.with_status(OrderStatus.IN_FULFILLMENT, at="2026-11-24T02:00:00.000Z")
    store.orders[stored.order_id] = replace(moved, version=2)
    again = service.capture_once(body(), WEBSHOP, "k-1", "hash-a")
    assert again.replayed is True and order_view(again.order) == order_view(first.order)
    assert len(store.orders) == 1


def test_a_key_with_another_body_is_a_conflict_and_an_expired_key_captures_anew() -> None:
    store = FakeOrderStore()
    service = Capture(store=store, epoch=lambda: 1_000)
    service.capture_once(body(), WEBSHOP, "k-1", "hash-a")
    with pytest.raises(Conflict, match="different body"):
        service.capture_once(body(channel_order_id="WEB-2"), WEBSHOP, "k-1", "hash-b")
    # another channel's key space is its own
    assert service.capture_once(body(), MARKETPLACE, "k-1", "hash-a").replayed is False
    store.now = 1_000 + 24 * 3600 + 1  # a day later the key is free again
    assert service.capture_once(body(channel_order_id="WEB-3"), WEBSHOP, "k-1", "hash-c").replayed is False
    assert len(store.orders) == 3


def test_the_key_is_checked_before_the_body_so_a_replay_is_never_re_priced() -> None:
    store = FakeOrderStore()
    service = Capture(store=store, epoch=lambda: 1_000)
    first = service.capture_once(body(), WEBSHOP, "k-1", "hash-a")
    # the same request again, at a time its authorisation no longer covers the price (the rates
    # changed): the original order answers, not a 422
    unpriceable = body(payment={"method": "card", "authorization_id": "a", "amount": "0.01"})
    again = service.capture_once(unpriceable, WEBSHOP, "k-1", "hash-a")
    assert again.replayed is True and again.order.order_id == first.order.order_id
    # another body that cannot be priced, with the used key: a conflict, not its 422
    with pytest.raises(Conflict, match="different body"):
        service.capture_once(unpriceable, WEBSHOP, "k-1", "hash-b")
    # and with an unused key the body's own refusal stands, nothing written
    with pytest.raises(ValidationFailed) as err:
        service.capture_once(unpriceable, WEBSHOP, "k-2", "hash-b")
    assert err.value.errors[0].field == "payment.amount" and len(store.orders) == 1


def test_reused_channel_order_id_is_a_conflict_naming_the_existing_order(service: Capture) -> None:
    first = service.capture(body(), WEBSHOP)
    with pytest.raises(DuplicateOrder) as err:
        service.capture(body(), WEBSHOP)
    assert err.value.existing_order_id == first.order_id and first.order_id in err.value.detail
    # another channel may use the same reference
    assert service.capture(body(), MARKETPLACE).channel == "marketplace"


def test_card_authorisation_below_total_names_payment_amount(service: Capture) -> None:
    with pytest.raises(ValidationFailed) as err:
        service.capture(body(payment={"method": "card", "authorization_id": "a", "amount": "35.57"}), WEBSHOP)
    assert err.value.errors[0].field == "payment.amount"


def test_price_with_too_many_decimals_names_the_line(service: Capture) -> None:
    with pytest.raises(ValidationFailed) as err:
        service.capture(body(lines=[{"sku": "A", "quantity": 1, "unit_price": "1.00"},
                                    {"sku": "B", "quantity": 1, "unit_price": "1.005"}]), WEBSHOP)
    assert err.value.errors[0].field == "lines[1].unit_price"


def test_on_account_needs_credit_and_consumes_it() -> None:
    store = FakeOrderStore(credit={("webshop", "C-42"): Decimal("50.00")})
    service = Capture(store=store)
    on_account = {"method": "on_account"}
    service.capture(body(channel_order_id=None, payment=on_account), WEBSHOP)
    with pytest.raises(ValidationFailed) as err:  # 35.58 + 35.58 > 50.00
        service.capture(body(channel_order_id=None, payment=on_account), WEBSHOP)
    assert err.value.errors[0].field == "payment.method"
    with pytest.raises(ValidationFailed):  # no credit account at all
        service.capture(body(channel_order_id=None, payment=on_account,
                             customer={**ORDER["customer"], "customer_id": "C-99"}), WEBSHOP)


def test_another_channels_order_does_not_exist_for_you(service: Capture) -> None:
    order = service.capture(body(), WEBSHOP)
    with pytest.raises(NotFound):
        service.get(order.order_id, MARKETPLACE)
    assert service.get(order.order_id, AGENT).order_id == order.order_id


def test_cancel_before_dispatch_then_again_is_harmless(service: Capture) -> None:
    order = service.capture(body(), WEBSHOP)
    cancelled = service.cancel(order.order_id, WEBSHOP, CancelReason.CUSTOMER)
    assert cancelled.status == OrderStatus.CANCELLED and cancelled.cancel_reason == "CUSTOMER"
    assert [e.event for e in cancelled.timeline] == ["OrderCaptured", "OrderCancelled"]
    again = service.cancel(order.order_id, WEBSHOP, CancelReason.CUSTOMER)
    assert [e.event for e in again.timeline] == ["OrderCaptured", "OrderCancelled"]


@pytest.mark.parametrize("status", [OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED, OrderStatus.COMPLETED])
def test_cancel_after_dispatch_is_refused_and_changes_nothing(service: Capture, status: OrderStatus) -> None:
    order = service.capture(body(), WEBSHOP)
    store = service.store
    assert isinstance(store, FakeOrderStore)
    from dataclasses import replace

    store.orders[order.order_id] = replace(store.orders[order.order_id], status=status)
    with pytest.raises(Conflict):
        service.cancel(order.order_id, WEBSHOP, CancelReason.CUSTOMER)
    assert store.orders[order.order_id].status == status


def test_status_machine_allows_cancel_only_before_dispatch() -> None:
    assert {s.value for s in CANCELLABLE} == {"CAPTURED", "BACKORDERED", "IN_FULFILLMENT"}
    assert OrderStatus.CAPTURED not in TRANSITIONS[OrderStatus.COMPLETED]
    assert OrderStatus.IN_FULFILLMENT not in TRANSITIONS[OrderStatus.CANCELLED]


def test_every_status_set_and_write_condition_comes_from_the_one_transition_table() -> None:
    # the sets the use cases and writes use, read from TRANSITIONS, pinned to what the
    # hand-written guards said before (the ALLOCATED that no write produces aside)
    from functions.allocate.adapters.reservation_table import RESERVED_OR_LATER
    from functions.core.adapters.transitions import into
    from functions.core.orders import sources
    from functions.route.fulfilment import DISPATCHABLE
    from functions.route.planning import PLANNABLE

    s = OrderStatus
    assert {s.CAPTURED, s.BACKORDERED} == PLANNABLE
    assert {s.IN_FULFILLMENT, s.PARTIALLY_SHIPPED} == DISPATCHABLE
    assert {s.IN_FULFILLMENT, s.PARTIALLY_SHIPPED, s.SHIPPED, s.COMPLETED} == RESERVED_OR_LATER
    assert sources(s.BACKORDERED) == {s.CAPTURED} and sources(s.COMPLETED) == {s.SHIPPED}
    condition, values = into(s.COMPLETED)
    assert condition == "#s IN (:from_completed_0)" and values == {":from_completed_0": "SHIPPED"}
    assert sorted(into(s.IN_FULFILLMENT)[1].values()) == ["BACKORDERED", "CAPTURED"]
    with pytest.raises(ValueError, match="ALLOCATED"):
        into(s.ALLOCATED)  # a status no write may produce has no condition


def test_channel_lists_only_its_own_orders_newest_first_with_pages() -> None:
    ticks = iter(range(10))
    service = Capture(store=FakeOrderStore(), clock=lambda: f"2026-11-23T10:00:0{next(ticks)}.000Z")
    ids = [service.capture(body(channel_order_id=f"W-{i}"), WEBSHOP).order_id for i in range(3)]
    service.capture(body(channel_order_id="M-1"), MARKETPLACE)
    page1, token = service.list(WEBSHOP, customer_id=None, limit=2, token=None)
    page2, end = service.list(WEBSHOP, customer_id=None, limit=2, token=token)
    assert [o["order_id"] for o in page1 + page2] == list(reversed(ids)) and end is None


def test_agent_listing_walks_back_over_empty_months() -> None:
    clock = iter(["2026-09-10T10:00:00.000Z", "2026-11-23T10:00:00.000Z", "2026-11-23T11:00:00.000Z"])
    service = Capture(store=FakeOrderStore(), clock=lambda: next(clock))
    old = service.capture(body(channel_order_id="old"), WEBSHOP)
    new = service.capture(body(channel_order_id="new"), WEBSHOP)
    orders, token = service.list(AGENT, customer_id=None, limit=10, token=None)  # clock: 2026-11
    assert [o["order_id"] for o in orders] == [new.order_id, old.order_id] and token is None


def test_agent_listing_rejects_a_forged_token(service: Capture) -> None:
    with pytest.raises(BadRequest):
        service.list(AGENT, customer_id=None, limit=10, token="garbage|x")


class FakeStarter:
    def __init__(self, fail: int = 0) -> None:
        self.started: list[str] = []
        self.fail = fail

    def start(self, name: str, payload: dict[str, Any]) -> str:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("throttled")
        self.started.append(name)
        return f"arn:execution:{name}"


class FakePublisher:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def publish(self, events: Any) -> None:
        self.events.extend(events)


def test_capture_starts_the_workflow_then_announces_the_order_with_a_stable_event_id() -> None:
    starter, publisher = FakeStarter(), FakePublisher()
    svc = WorkflowService(starter=starter, publisher=publisher)
    assert svc.on_order_captured("ord_1", {"order_id": "ord_1"}) == f"arn:execution:{starter.started[0]}"
    svc.on_order_captured("ord_1", {"order_id": "ord_1"})  # a redelivered stream record
    # a second execution may start (it changes nothing: see the Reserve tests); the two
    # announcements carry one event id, so a subscriber keeps one
    assert len(starter.started) == 2 and all(n.startswith("ord_1-") for n in starter.started)
    assert [e.name for e in publisher.events] == ["OrderCaptured"] * 2
    assert len({e.event_id for e in publisher.events}) == 1


def test_a_failed_start_announces_nothing_and_the_record_is_retried() -> None:
    starter, publisher = FakeStarter(fail=1), FakePublisher()
    svc = WorkflowService(starter=starter, publisher=publisher)
    with pytest.raises(RuntimeError):
        svc.on_order_captured("ord_1", {})
    assert publisher.events == []
    svc.on_order_captured("ord_1", {})
    assert len(starter.started) == 1 and len(publisher.events) == 1


def test_cancelling_an_allocated_order_releases_its_stock_once() -> None:
    from dataclasses import replace

    from functions.core.sourcing import Allocation

    store = FakeOrderStore()
    service = Capture(store=store)
    order = service.capture(body(), WEBSHOP)
    plan = (Allocation("1", "SKU-RED-MUG", "DC-BERLIN", 2),)
    store.orders[order.order_id] = replace(store.orders[order.order_id], status=OrderStatus.IN_FULFILLMENT,
                                          allocations=plan)
    cancelled = service.cancel(order.order_id, WEBSHOP, CancelReason.CUSTOMER)
    assert [e.event for e in cancelled.timeline][-2:] == ["OrderCancelled", "StockReleased"]
    service.cancel(order.order_id, WEBSHOP, CancelReason.CUSTOMER)
    assert store.released == list(plan)


def test_a_listing_whose_statuses_stay_throttled_fails_as_retryable_rather_than_dropping_orders(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.capture.adapters import order_table
    from functions.core.errors import TransientError

    class Throttled:
        calls = 0

        def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            Throttled.calls += 1
            return {"Responses": {"t": []}, "UnprocessedKeys": RequestItems}

    monkeypatch.setattr(order_table.time, "sleep", lambda _: None)
    with pytest.raises(TransientError):
        order_table.OrderTable("t", dynamodb_client=Throttled())._statuses(["ord_1", "ord_2"])
    assert Throttled.calls == 6
