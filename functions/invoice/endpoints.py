"""HTTP routes of the invoice capability (API.md "Finance")."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.core.handlers.http import problem_responses, require_role

from .models import DocumentListOut, DocumentOut
from .wiring import document_queries

router = APIGatewayRouter()  # type: ignore[no-untyped-call]


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
            tags=["Finance"], responses=problem_responses(404))
def get_invoice(invoice_number: Annotated[str, Path(max_length=32, pattern=r"^(INV|CN)-\d{4}-\d{6}$")]
                ) -> DocumentOut:
    principal = require_role(router, "finance", "agent", "channel")
    return DocumentOut.model_validate(document_queries().get(invoice_number, principal))
