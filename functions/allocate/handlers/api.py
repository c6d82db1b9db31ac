"""API function of the allocate capability: ``/inventory`` and ``/availability``."""

from __future__ import annotations

from functions.allocate.endpoints import router
from functions.core.handlers.http import api_handler, api_resolver

app = api_resolver(router)
lambda_handler = api_handler(app)
