"""API function of the returns capability: ``/orders/{order_id}/returns``, ``/returns``,
``/channels/{channel}/settings``."""

from __future__ import annotations

from functions.core.handlers.http import api_handler, api_resolver
from functions.returns.endpoints import router

app = api_resolver(router)
lambda_handler = api_handler(app)
