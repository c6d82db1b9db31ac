"""Renders the invoices and credit notes the invoice stream queued (``oms-<env>-documents``), one
message per document: the PDF and the CII XML into the document bucket, then the mark that
they are there. A repeat changes nothing; a failure fails its record, which SQS delivers again
(the DLQ after five receives)."""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

# Imported at init, not on the first document: the function runs with Lambda SnapStart, which
# snapshots the init once per published version, so a cold start restores the PDF and XML
# libraries (~0.3 s of CPU to import) instead of loading them (infra/constructs/invoice.py).
import functions.invoice.adapters.facturx_pdf  # noqa: F401
from functions.core.handlers.entrypoints import batch_handler
from functions.core.handlers.observability import MetricUnit, logger, metrics
from functions.invoice.wiring import render_service


def record_handler(record: SQSRecord) -> None:
    message = json.loads(record.body)
    order_id, number = str(message["order_id"]), str(message["number"])
    result = render_service().render_document(order_id, number)
    if result == "rendered":
        metrics.add_metric(name="DocumentsRendered", unit=MetricUnit.Count, value=1)
    logger.info("document rendering", extra={"order_id": order_id, "number": number, "result": result})


#: A document (up to 250 lines) is started only with this much of the 15 s timeout left: at 512 MB
#: (~0.29 vCPU) a long one takes seconds; the records after it fail untouched and come again.
RESERVE_MS = 4_000

lambda_handler = batch_handler("SQS", record_handler, reserve_ms=RESERVE_MS)
