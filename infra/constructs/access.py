"""Access: the API's REQUEST authorizer function.

It maps the `x-api-key` header to a principal by reading the hashed key's item
(`APIKEY#<sha256>` / `APIKEY`). Its role can read API-key items and nothing else: no writes,
no orders, no indexes. API keys themselves are created at run time by key management
(functions/access), never in the template.
"""

from __future__ import annotations

from constructs import Construct

from infra.constructs.data import Data
from infra.constructs.functions import LambdaFunctions
from infra.constructs.monitoring import Monitoring

AUTHORIZER_HANDLER = "functions.access.handlers.authorizer.lambda_handler"


class Access(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: LambdaFunctions,
        data: Data,
        monitoring: Monitoring,
    ) -> None:
        super().__init__(scope, construct_id)
        self.authorizer_function = functions.python_function(
            self,
            "AuthorizerFunction",
            capability="access",
            role="authorizer",
            handler=AUTHORIZER_HANDLER,
            description="API Gateway REQUEST authorizer: x-api-key -> principal and role",
        )
        data.grant(self.authorizer_function, ("dynamodb:GetItem",), partitions=("api_key",))
        monitoring.watch_authorizer("Authorizer", self.authorizer_function)
