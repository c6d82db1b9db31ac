"""API function of the capture capability: ``/orders`` plus the unauthenticated
``/health``, ``/openapi.json`` and ``/docs``."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.capture.routes import router
from functions.core.http import api_resolver, resolve
from functions.core.observability import logger, metrics
from functions.openapi_doc import DOCUMENT

app = api_resolver(router)


@app.get("/health", include_in_schema=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@cache
def _document() -> str:
    return DOCUMENT.read_text()


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(status_code=200, content_type="application/json", body=_document())


@app.get("/docs", include_in_schema=False)
def swagger_ui() -> Response[str]:
    return Response(status_code=200, content_type="text/html", body=_swagger_html())


@cache
def _swagger_html() -> str:
    import aws_lambda_powertools.event_handler as eh
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    assets = Path(eh.__file__).parent / "openapi" / "swagger_ui"
    return generate_swagger_html(
        spec=_document().replace("</", "<\\/"),
        swagger_js=(assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        swagger_css=(assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        swagger_base_url="", oauth2_config=None, persist_authorization=True,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)


