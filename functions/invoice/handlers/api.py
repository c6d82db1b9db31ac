"""API function of the invoice capability: ``/invoices``, ``/invoices/{invoice_number}``."""

from __future__ import annotations

from functions.core.handlers.http import api_handler, api_resolver
from functions.invoice.endpoints import router

app = api_resolver(router)
lambda_handler = api_handler(app)
