"""HTTP routes of the invoice capability (API.md "Finance"): the documents, on-account customers'
credit accounts, payments and balances, finance's review list."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.core.handlers.http import problem_responses, require_role

from .models import (
    BalanceOut,
    CreditAccountIn,
    CreditAccountOut,
    DocumentListOut,
    DocumentOut,
    PaymentIn,
    PaymentOut,
    ReviewListOut,
)
from .receivables import CHANNEL_PATTERN, CUSTOMER_ID_PATTERN, MAX_ID_LENGTH
from .wiring import document_queries, receivables_service

router = APIGatewayRouter()  # type: ignore[no-untyped-call]

InvoiceNumber = Annotated[str, Path(max_length=32, pattern=r"^(INV|CN)-\d{4}-\d{6}$")]
# the use case holds ``oms customers`` to the same patterns (receivables.check_customer)
ChannelPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=CHANNEL_PATTERN)]
CustomerPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=CUSTOMER_ID_PATTERN,
                                   description="The channel's customer id (as the orders carry it)")]


@router.get("/invoices", summary="Invoices and credit notes by issue date (finance)", tags=["Finance"],
            description="Documents issued from `from` to `to` (inclusive UTC dates, at most 366 days) by the "
                        "environment's legal entity, in order of issue; `kind` keeps one kind.")
def list_invoices(
    date_from: Annotated[date, Query(alias="from", description="First issue date (UTC), inclusive")],
    date_to: Annotated[date, Query(alias="to", description="Last issue date (UTC), inclusive")],
    kind: Annotated[Literal["invoice", "credit_note"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> DocumentListOut:
    require_role(router, "finance")
    found, token = document_queries().list(first=date_from, last=date_to, kind=kind, limit=limit, token=next_token)
    return DocumentListOut.model_validate({"invoices": found, "next_token": token})


@router.get("/invoices/<invoice_number>", summary="One invoice or credit note with its lines and documents",
            description="Finance and agents (customer service: one view of every order) read any document; a "
                        "channel reads its own orders' documents and gets 404 for any other's.",
            tags=["Finance"], responses=problem_responses(404))
def get_invoice(invoice_number: InvoiceNumber) -> DocumentOut:
    principal = require_role(router, "finance", "agent", "channel")
    return DocumentOut.model_validate(document_queries().get(invoice_number, principal))


@router.post("/invoices/<invoice_number>/payments", summary="Record a payment received against an on-account "
             "invoice (finance)", tags=["Finance"],
             description="Partial payments are allowed, never more than is open (422 naming `amount`); the "
                         "same `payment_reference` again for the invoice answers the payment recorded first "
                         "(200) and records nothing new. The amount goes back to the customer's available "
                         "credit, and `PaymentReceived` is published on the event bus.",
             responses={201: {"description": "Recorded, with what is still open on the invoice"},
                        200: {"description": "Recorded before with this reference: nothing new"},
                        **problem_responses(404, 409, 503, ok=None)})
def record_payment(invoice_number: InvoiceNumber, body: Annotated[PaymentIn, Body()]) -> Response[PaymentOut]:
    require_role(router, "finance")
    view, created = receivables_service().record_payment(invoice_number, body.to_command())
    return Response(status_code=201 if created else 200, content_type="application/json",
                    body=PaymentOut.model_validate(view))


@router.put("/customers/<channel>/<customer_id>/credit", summary="Create or change an on-account customer's "
            "credit account (finance)", tags=["Finance"],
            description="Currency, limit and payment terms. Changing the limit keeps what the customer owes: "
                        "available credit = the new limit less it. The currency changes only while nothing is "
                        "owed or on order (else 409).",
            responses=problem_responses(409, 503))
def put_credit_account(channel: ChannelPath, customer_id: CustomerPath,
                       body: Annotated[CreditAccountIn, Body()]) -> CreditAccountOut:
    require_role(router, "finance")
    return CreditAccountOut.model_validate(receivables_service().put_account(channel, customer_id, body.to_terms()))


@router.get("/customers/<channel>/<customer_id>/balance", summary="An on-account customer's open items, ageing "
            "and available credit (finance, agents)", tags=["Finance"],
            description="Days overdue and the ageing buckets are counted from the due dates to today (UTC); "
                        "items paid in full are not listed.",
            responses=problem_responses(404))
def get_balance(channel: ChannelPath, customer_id: CustomerPath) -> BalanceOut:
    require_role(router, "finance", "agent")
    return BalanceOut.model_validate(receivables_service().balance(channel, customer_id))


@router.get("/finance/review", summary="Finance's review list (finance, agents)", tags=["Finance"],
            description="Invoicing and refund runs that failed for good, oldest first, each with its reason; an "
                        "entry leaves the list once a later run succeeds.")
def get_finance_review(limit: Annotated[int, Query(ge=1, le=200)] = 50,
                       next_token: Annotated[str | None, Query(max_length=2048)] = None) -> ReviewListOut:
    require_role(router, "finance", "agent")
    entries, token = receivables_service().review(limit=limit, token=next_token)
    return ReviewListOut.model_validate({"entries": entries, "next_token": token})
