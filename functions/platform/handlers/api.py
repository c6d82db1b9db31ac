"""The platform's API function: ``GET /health``, ``GET /openapi.json`` and ``GET /docs``
(Swagger UI), unauthenticated. It serves the committed ``functions/openapi.json`` (merged from
every capability's router by ``make openapi``) and imports no router and no validation, so
its cold start is the smallest of the API's."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from functions.core.handlers.http import api_handler, install_error_handlers
from functions.openapi_doc import DOCUMENT

app = APIGatewayRestResolver()
install_error_handlers(app)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@cache
def _document() -> str:
    return DOCUMENT.read_text()


@app.get("/openapi.json")
def openapi_document() -> Response[str]:
    return Response(status_code=200, content_type="application/json", body=_document())


@app.get("/docs")
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


lambda_handler = api_handler(app)
