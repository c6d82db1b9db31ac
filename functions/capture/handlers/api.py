"""API function of the capture capability: ``/orders``."""

from __future__ import annotations

from functions.capture.endpoints import router
from functions.core.handlers.http import api_handler, api_resolver

app = api_resolver(router)
lambda_handler = api_handler(app)
