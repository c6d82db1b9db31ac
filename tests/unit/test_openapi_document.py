"""The committed OpenAPI document is the one the routers produce (regenerate with
``python -m functions.openapi_doc``)."""

from __future__ import annotations

import json

from functions.openapi_doc import DOCUMENT, render


def test_committed_openapi_document_is_current() -> None:
    assert json.loads(DOCUMENT.read_text()) == json.loads(render()), \
        "functions/openapi.json is stale: run `make openapi`"


def test_document_describes_the_api_md_order_paths_and_key_auth() -> None:
    doc = json.loads(DOCUMENT.read_text())
    assert {"/orders", "/orders/{order_id}", "/orders/{order_id}/cancel", "/orders/quote"} <= set(doc["paths"])
    assert doc["components"]["securitySchemes"]["apiKey"]["name"] == "x-api-key"
