"""Large orders (issue 11): how a 250-line order is cut to DynamoDB's limits — the plan read in
several BatchGetItems, the reservation in parts of at most ``PART_RECORDS`` records of one node,
every transaction within 100 actions and 4 MB, the Plan→Reserve state within Step Functions'
256 KB."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.core.adapters.reservation_parts import (
    MAX_TRANSACTION_BYTES,
    PART_RECORDS,
    TRANSACTION_ACTIONS,
    part_check,
    plan_parts,
    put_part_action,
    records_of,
    release_part_actions,
    same_part,
    ship_part_actions,
    transaction_bytes,
)
from functions.core.adapters.stock import BATCH_GET_KEYS, StockReader, reserve_action
from functions.core.errors import Conflict
from functions.core.orders import CancelReason, OrderStatus, PartStatus
from functions.core.principal import Principal
from functions.core.sourcing import Allocation, allocations_to

AGENT = Principal("agent", "agent-1")

SKU = "SKU-" + "X" * 56  # a long SKU: the sizes below are upper bounds


def large_plan(lines: int = 250, dc_lines: int = 150) -> list[Allocation]:
    return [Allocation(str(i + 1), f"{SKU}{i:04d}", "DC-BERLIN" if i < dc_lines else "STORE-MUNICH", 1000 + i)
            for i in range(lines)]


class Recording:
    """A DynamoDB client that answers BatchGetItem with each asked record and the version."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        (table, ask), = RequestItems.items()
        self.requests.append(ask)
        items = []
        for key in ask["Keys"]:
            if key["PK"]["S"] == "NODES":
                items.append({**key, "version": {"N": "7"}})
            else:
                items.append({**key, "sku": {"S": key["PK"]["S"][4:]}, "node_id": {"S": key["SK"]["S"][5:]},
                              "on_hand": {"N": "3"}, "reserved": {"N": "1"}})
        return {"Responses": {table: items}}


def test_a_large_order_is_read_in_several_consistent_batches_the_version_with_the_first() -> None:
    client = Recording()
    skus = [f"SKU-{i}" for i in range(250)]
    version, levels = StockReader("t", dynamodb_client=client).version_and_levels(skus, ["DC-BERLIN", "STORE-MUNICH"])
    # 501 keys: six requests of at most 100, each consistent, the version in the first
    assert [len(r["Keys"]) for r in client.requests] == [100, 100, 100, 100, 100, 1]
    assert all(r["ConsistentRead"] for r in client.requests)
    assert client.requests[0]["Keys"][0] == {"PK": {"S": "NODES"}, "SK": {"S": "VERSION"}}
    assert version == 7 and len(levels) == 500 and {lv.available for lv in levels} == {2}


def test_a_small_order_is_still_one_request() -> None:
    client = Recording()
    StockReader("t", dynamodb_client=client).version_and_levels(["MUG"], ["DC-BERLIN", "STORE-MUNICH"])
    assert len(client.requests) == 1 and BATCH_GET_KEYS == 100


def test_the_plan_is_cut_into_parts_of_one_node_each_the_same_every_time() -> None:
    plan = large_plan()
    parts = plan_parts("exec-1", plan)
    # 150 records at the DC, 100 at the store: two parts each, numbered 1..4
    assert [(p.number, p.node_id, len(records_of(p))) for p in parts] == [
        (1, "DC-BERLIN", PART_RECORDS), (2, "DC-BERLIN", 60),
        (3, "STORE-MUNICH", PART_RECORDS), (4, "STORE-MUNICH", 10)]
    # every line in exactly one part
    assert sorted((a for p in parts for a in p.lines), key=str) == sorted(plan, key=str)
    # the same plan in another order gives the same parts (a retried Reserve finds its markers)
    again = plan_parts("exec-1", list(reversed(plan)))
    assert len(again) == len(parts) and all(same_part(a, b) for a, b in zip(again, parts, strict=True))


def test_two_lines_of_one_sku_share_a_record_and_a_part() -> None:
    plan = [Allocation("1", "MUG", "DC", 2), Allocation("2", "MUG", "DC", 3), Allocation("3", "TEA", "DC", 1)]
    (part,) = plan_parts("e", plan)
    assert {(a.sku, a.quantity) for a in records_of(part)} == {("MUG", 5), ("TEA", 1)}
    assert len(part.lines) == 3


def test_every_transaction_of_a_250_line_order_fits_dynamodbs_limits() -> None:
    for part in plan_parts("ord_01ABCDEFGHJKMNPQRSTVWXYZ01-0123456789abcdef", large_plan()):
        reserve = [put_part_action("oms-local", "ord_x", part),
                   *(reserve_action("oms-local", a) for a in records_of(part)), {"Update": {}}]
        release = release_part_actions("oms-local", "ord_x", part)
        ship = [*ship_part_actions("oms-local", "ord_x", part), {"ConditionCheck": {}}]
        for actions in (reserve, release, ship):
            assert len(actions) <= TRANSACTION_ACTIONS and transaction_bytes(actions) < MAX_TRANSACTION_BYTES
        # and the marker item is far from the 400 KB item limit
        assert transaction_bytes([put_part_action("t", "ord_x", part)]) < 20_000
    check = part_check("t", "ord_x", plan_parts("e", large_plan())[0], plan_parts("e", large_plan())[0].status)
    assert check["ConditionCheck"]["ConditionExpression"] == "#st = :status"


def test_the_plan_of_250_lines_fits_the_workflow_state() -> None:
    # Plan's result travels in the execution's state to Reserve: Step Functions allows 256 KB
    state = {"order_id": "ord_01ABCDEFGHJKMNPQRSTVWXYZ01", "attempts": {"n": 7},
             "plan": {"planned": True, "plannable": True, "allocations": allocations_to(large_plan()),
                      "ship_to": {"name": "N" * 200, "line1": "L" * 200, "city": "C" * 100, "postal_code": "1" * 20,
                                  "country": "DE"}, "shipping_method": "standard"},
             "stock_moved": {"Error": "StockMoved", "Cause": "x" * 4000}}
    assert len(json.dumps(state).encode()) < 64 * 1024


def _large_order_in(status: OrderStatus, part_status: PartStatus = PartStatus.RESERVED) -> tuple[Any, Any, Any]:
    from dataclasses import replace

    from functions.capture.cancellation import Cancellation
    from tests.unit.fakes import FakeOrderStore
    from tests.unit.test_capture_logic import WEBSHOP, Capture, body

    store = FakeOrderStore()
    order = Capture(store=store).capture(body(), WEBSHOP)
    parts = tuple(replace(p, status=part_status) for p in plan_parts("exec-1", large_plan()))
    store.orders[order.order_id] = replace(store.orders[order.order_id], status=status, reservation_parts=parts)
    return Cancellation(store), store, order.order_id


def test_a_large_order_being_dispatched_can_no_longer_be_cancelled() -> None:
    cancellation, store, order_id = _large_order_in(OrderStatus.IN_FULFILLMENT, PartStatus.SHIPPED)
    with pytest.raises(Conflict, match="being dispatched"):
        cancellation.cancel(order_id, AGENT, CancelReason.CUSTOMER)
    assert store.orders[order_id].status == OrderStatus.IN_FULFILLMENT and store.released == []


def test_a_large_orders_cancel_records_counts_and_a_repeat_finishes_its_release() -> None:
    cancellation, store, order_id = _large_order_in(OrderStatus.IN_FULFILLMENT)
    cancelled = cancellation.cancel(order_id, AGENT, CancelReason.CUSTOMER)
    (entry,) = [e for e in cancelled.timeline if e.event == "StockReleased"]
    # counts, not 250 lines on the header that every later write rewrites
    assert entry.detail == {"lines": 250, "units": sum(a.quantity for a in large_plan()), "parts": 4}
    assert cancelled.reservation_parts == () and len(store.released) == 250
    # Given a cancel that stopped after the header (parts left on a CANCELLED order)
    from dataclasses import replace

    store.orders[order_id] = replace(store.orders[order_id], reservation_parts=plan_parts("exec-1", large_plan()))
    # When it is cancelled again, Then the parts left are released, and the answer shows none
    again = cancellation.cancel(order_id, AGENT, CancelReason.CUSTOMER)
    assert again.status == OrderStatus.CANCELLED and again.reservation_parts == ()
    assert len(store.released) == 500 and store.orders[order_id].reservation_parts == ()
