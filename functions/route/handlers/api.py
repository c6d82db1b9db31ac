"""API function of the route capability: ``/shipments`` (nodes)."""

from __future__ import annotations

from functions.core.handlers.http import api_handler, api_resolver
from functions.route.endpoints import router

app = api_resolver(router)
lambda_handler = api_handler(app)
