"""Returns: authorising a return of dispatched lines (RMA, where the goods go), the nodes' view of
what is coming to them and their receipts (resellable units back into stock), and the channels'
settings (their return window).

| function | triggered by | may |
|---|---|---|
| api | API: `POST /orders/{order_id}/returns`, `/returns`, `/returns/*`, `/channels/*` | RETURNS_API_ACTIONS, GSI1 |
"""

from __future__ import annotations

from constructs import Construct

from infra.constructs.api import Api
from infra.constructs.data import Data
from infra.constructs.functions import LambdaFunctions
from infra.constructs.monitoring import Monitoring

HANDLERS = "functions.returns.handlers"
# read the order (Query of ORDER#<id>) and the node network (Query of NODES); authorise: the
# ledger (Update) and the return (Put) in one transaction; a node's returns (Query of GSI1); a
# channel's settings (GetItem, PutItem); receive: the return (Update) and the resellable units
# back into the node's stock (Update of SKU#<sku> / NODE#<node>) in one transaction
RETURNS_API_ACTIONS = ("dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
RETURNS_API_PARTITIONS = ("order", "network", "node_returns", "channel_settings", "stock")


class Returns(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, functions: LambdaFunctions, data: Data,
                 api: Api, monitoring: Monitoring) -> None:
        super().__init__(scope, construct_id)
        self.api_function = functions.python_function(
            self, "ApiFunction", capability="returns", role="api", handler=f"{HANDLERS}.api.lambda_handler",
            description="Returns API: authorise a return, read and list returns, channel settings",
        )
        data.grant(self.api_function, RETURNS_API_ACTIONS, partitions=RETURNS_API_PARTITIONS)
        api.add_route("/orders/{order_id}/returns", self.api_function, methods=("POST",))
        api.add_prefix("returns", self.api_function, methods=("GET",))
        api.add_prefix("channels", self.api_function, methods=(), proxy=True)
        monitoring.watch_api_function("ReturnsApi", self.api_function)
