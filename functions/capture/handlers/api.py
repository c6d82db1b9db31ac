"""API function of the capture capability: ``/orders``."""

from __future__ import annotations

from functions.capture.endpoints import held_key_answer, router
from functions.core.handlers.http import api_handler, api_resolver

app = api_resolver(router, before_refusal=held_key_answer)
lambda_handler = api_handler(app)
