"""The one OpenAPI document of the OMS, merged from every capability's router.

``python -m functions.openapi_doc`` regenerates ``functions/openapi.json`` (committed, shipped
in the code asset and served at ``GET /openapi.json`` and ``/docs``); a test fails when the
committed file is stale. Capabilities add their router to ``ROUTERS``.
"""

from __future__ import annotations

import json
import sys
from importlib import import_module
from pathlib import Path
from typing import Any

DOCUMENT = Path(__file__).with_name("openapi.json")

#: "<module>:<router attribute>" of every capability that serves HTTP routes.
ROUTERS = [f"functions.{capability}.endpoints:router"
           for capability in ("capture", "allocate", "route", "returns", "invoice")]

DESCRIPTION = """Order management API: capture orders from any channel, read and cancel them.
Authenticate with the `x-api-key` header. Errors are `application/problem+json` (RFC 9457).
Amounts are decimal strings in the currency's minor unit."""


def build() -> dict[str, Any]:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server

    app = APIGatewayRestResolver(enable_validation=True)
    for ref in ROUTERS:
        module, attr = ref.split(":")
        app.include_router(getattr(import_module(module), attr))
    schema = app.get_openapi_schema(
        title="OMS API", version="1.0.0", description=DESCRIPTION, servers=[Server(url="/")],
        security_schemes={"apiKey": APIKey(name="x-api-key", **{"in": APIKeyIn.header})},
        security=[{"apiKey": []}],
    )
    doc: dict[str, Any] = json.loads(schema.model_dump_json(by_alias=True, exclude_none=True))
    return doc


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    DOCUMENT.write_text(render())
    print(f"wrote {DOCUMENT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
