"""What make bench reports for the finance archive (bench/cost.py): Firehose ingestion per order,
each record billed as 5 KB, inside the per-order total; its S3 PUTs a fixed monthly cost beside."""

from __future__ import annotations

import pytest

from bench import cost

NOTHING_ELSE = {"aws_requests_by_operation": {}, "dynamodb_per_order": {}, "step_functions_per_order": {},
                "lambda_invocations_per_order": 0, "lambda_billed_ms_per_order": 0, "api_requests_per_order": 0}


def test_each_record_is_billed_as_5_kb_and_priced_per_gb_in_the_total() -> None:
    # Given two orders whose invoice and capture were archived (about 1.3 KB each)
    records = [("InvoiceIssued", 1300), ("PaymentCaptured", 1400)] * 2
    archive = cost.archive_per_order(records, orders=2)
    assert archive["records_per_order"] == 2 and archive["billed_bytes_per_order"] == 2 * 5120
    assert archive["records_by_type_per_order"] == {"InvoiceIssued": 1, "PaymentCaptured": 1}
    # When they are priced
    money = cost.cost_per_1000({**NOTHING_ELSE, "archive": archive})
    # Then 1,000 orders are 10,240,000 bytes billed at the GB price, and nothing else is added
    expected = 1000 * 2 * 5120 / 2**30 * cost.PRICES["firehose_ingestion_gb"]
    assert money["items"]["firehose_archive"] == pytest.approx(expected, abs=1e-6)
    assert money["cost_per_1000_orders_usd"] == pytest.approx(expected, abs=1e-6)
    assert money["cost_per_1000_orders_usd"] < 0.001  # well inside the $0.05 budget
    # a 5,121-byte record is billed as two units
    assert cost.archive_per_order([("InvoiceIssued", 5121)], orders=1)["billed_bytes_per_order"] == 10240


def test_the_archives_s3_puts_are_a_fixed_monthly_cost_shared_over_the_months_orders() -> None:
    archive = cost.archive_per_order([], orders=1)
    assert archive["flushes_per_month"] == 8640  # one object per 300 s buffer, all month
    assert archive["s3_puts_fixed_per_month_usd"] == pytest.approx(8640 * cost.PRICES["s3_put_request"])
    assert archive["s3_puts_share_per_1000_orders_usd"] == pytest.approx(
        archive["s3_puts_fixed_per_month_usd"] / cost.ORDERS_PER_MONTH * 1000, abs=1e-6)
    assert cost.cost_per_1000(NOTHING_ELSE)["items"]["firehose_archive"] == 0  # figures without an archive
