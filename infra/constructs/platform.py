"""Platform: what the API serves that belongs to no capability — the health check and the API
description (the committed OpenAPI document and its Swagger UI), unauthenticated.

| function | triggered by | may |
|---|---|---|
| api | API: `GET /health`, `GET /openapi.json`, `GET /docs` (public) | nothing: no table, no bus |
"""

from __future__ import annotations

from constructs import Construct

from infra.constructs.api import Api
from infra.constructs.functions import LambdaFunctions
from infra.constructs.monitoring import Monitoring

HANDLERS = "functions.platform.handlers"
PUBLIC_PATHS = ("health", "openapi.json", "docs")


class Platform(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, functions: LambdaFunctions, api: Api,
                 monitoring: Monitoring) -> None:
        super().__init__(scope, construct_id)
        self.api_function = functions.python_function(
            self, "ApiFunction", capability="platform", role="api", handler=f"{HANDLERS}.api.lambda_handler",
            description="Health check and the API description (OpenAPI document, Swagger UI)",
        )
        for path in PUBLIC_PATHS:
            api.add_public_route(path, self.api_function)
        monitoring.watch_api_function("PlatformApi", self.api_function)
