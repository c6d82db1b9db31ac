"""`make demo` (localcloud/demo.py) against the e2e tier's running stack: a few orders placed, shipped and
summarised. Robust to how far the order gets after dispatch (invoicing), so it asserts no COMPLETED counts."""

from __future__ import annotations

import io
import json
from pathlib import Path

from localcloud import demo


def test_demo_places_ships_and_summarises_its_orders(stack: str, tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    code = demo.main(["--url", stack, "--orders", "6", "--seed", "7", "--json", str(out), "--timeout", "90"])
    summary = json.loads(out.read_text())
    assert code == 0, summary
    orders = summary["orders"]
    assert orders["placed"] == 6 and not orders["failed"]
    assert sum(orders["by_status"].values()) == 6  # every order accounted for
    assert summary["notices"]["emails"] > 0
    assert summary["shipments"]["dispatched"] > 0
    assert summary["mail_url"] == f"{stack}/_local/mail"
    # a few completed orders come back: one damaged, one change of mind, one exchange
    returns, completed = summary["returns"], orders["by_status"].get("COMPLETED", 0)
    assert returns["returned"] == min(3, completed) and not returns["failed"], returns
    assert set(returns["by_status"]) <= {"REFUNDED", "EXCHANGED"}, returns
    refunds = returns["by_status"].get("REFUNDED", 0)
    assert returns["credit_notes"] >= refunds and (refunds == 0 or float(returns["refunded_revenue"]["EUR"]) > 0)
    assert returns["replacement_orders_completed"] == returns["by_status"].get("EXCHANGED", 0)
    # and the demo's day, exported as finance closes the books, reconciles in every currency
    finance = summary["finance"]
    assert finance["exit_code"] == 0 and finance["reconciled"] and not finance["findings"], finance
    assert finance["currencies"] and all(c["difference"] == "0.00" for c in finance["currencies"].values())
    assert finance["lines"][-1] == "difference: 0.00" and finance["ledger_rows"] > 0


def test_the_same_seed_plans_the_same_orders() -> None:
    first, again = demo.plan_orders(50, 7, "RUN1"), demo.plan_orders(50, 7, "RUN2")
    assert [o.body["lines"] for o in first] == [o.body["lines"] for o in again]
    assert [o.cancel for o in first] == [o.cancel for o in again] and sum(o.cancel for o in first) == 5
    assert first[0].body["channel_order_id"] != again[0].body["channel_order_id"]  # a rerun needs new ids
    assert {o.channel for o in first} == {"webshop", "marketplace"}
    assert {o.body["shipping_address"]["country"] for o in first} == {"DE", "AT", "NL"}
    assert {o.body["customer"]["locale"] for o in first} == {"en-GB", "de-DE"}
    # stock covers the demand, except for the scarce SKU: some orders will be backordered
    levels = demo.stock_plan(first)
    assert set(levels) <= {(p.sku, n) for p in demo.CATALOGUE for n in p.nodes}
    for product in demo.CATALOGUE:
        demand = sum(line["quantity"] for o in first for line in o.body["lines"] if line["sku"] == product.sku)
        stock = sum(units for (sku, _), units in levels.items() if sku == product.sku)
        assert (stock < demand) == product.scarce, product.sku


def test_the_summary_table_reads_well_without_unicode() -> None:
    summary = {
        "seed": 7, "base_url": "http://127.0.0.1:1", "mail_url": "http://127.0.0.1:1/_local/mail",
        "run_time_seconds": 12.3,
        "orders": {"requested": 3, "placed": 3, "failed": [], "by_channel": {"webshop": 2, "marketplace": 1},
                   "by_status": {"COMPLETED": 2, "SHIPPED": 1}, "not_settled": {"ord_1": "SHIPPED"}},
        "cancellations": {"requested": 0, "cancelled": 0, "too_late": 0, "failed": 0},
        "shipments": {"total": 3, "dispatched": 3, "cancelled": 0, "open": 0, "dispatch_calls": {}},
        "notices": {"emails": 5, "sms": 2, "emails_by_kind": {"order_confirmed": 3}, "sms_by_kind": {}},
        "api_errors_retried": {"GET /orders/{id}: 502": 1},
        "invoices": {"issued": 2, "credit_notes": 0, "by_payment_status": {"CAPTURED": 2},
                     "captured_revenue": {"EUR": "1234.5"}, "completed_orders": 2,
                     "completed_orders_matching_totals": 2, "mismatched_orders": []},
        "returns": {"returned": 2, "failed": [], "by_status": {"REFUNDED": 1, "EXCHANGED": 1}, "damaged_units": 1,
                    "credit_notes": 1, "refunded_revenue": {"EUR": "11.9"}, "replacement_orders": 1,
                    "replacement_orders_completed": 1},
    }

    class Ascii(io.StringIO):
        encoding = "ascii"

    table = demo.render(summary, stream=Ascii())
    table.encode("ascii")
    assert "invoices = order totals: 2/2 OK" in " ".join(table.split())
    assert "refunded revenue EUR 11.90" in " ".join(table.split())
    assert "exchange orders completed 1/1" in " ".join(table.split())
    assert "captured revenue EUR 1,234.50" in " ".join(table.split())
    assert "not settled in time 1 (SHIPPED 1)" in " ".join(table.split())
    assert "1x GET /orders/{id}: 502" in table


def test_the_finance_block_prints_the_reconciliation_as_the_export_did() -> None:
    finance = {"command": "oms finance export --from 2026-11-24 --to 2026-11-24", "ledger_rows": 3, "exit_code": 0,
               "lines": ["reconciliation EUR", "invoices: 10.00", "difference: 0.00"], "error": ""}
    text = demo.render_finance(finance)
    assert text.splitlines()[-1].strip() == "difference: 0.00" and "3 ledger rows" in text
    failed = demo.render_finance({**finance, "exit_code": 1, "error": "error: no finance archive"})
    assert "the export failed: error: no finance archive" in failed
