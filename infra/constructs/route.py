"""Route: distributed order management — the sourcing plan (the fulfilment requests it leads
to are written by allocate's Reserve, with the stock) and the nodes' side: their open
requests and dispatch confirmations; and the node network itself, which agents manage.

| function | triggered by | may |
|---|---|---|
| plan | order_fulfillment task `Plan` | PLAN_ACTIONS: read the order's items, stock and the node network |
| api | API: `/shipments`, `/shipments/*` (nodes), `/nodes`, `/nodes/*` | ROUTE_API_ACTIONS; GSI1 (requests) |
"""

from __future__ import annotations

from constructs import Construct

from infra.constructs.api import Api
from infra.constructs.data import Data
from infra.constructs.functions import LambdaFunctions
from infra.constructs.monitoring import Monitoring

HANDLERS = "functions.route.handlers"
# the order (query of ORDER#<id>), then the network's version with the stock records of the
# order's SKUs at the cached nodes (one BatchGetItem, route/adapters/node_cache.py); on a first or
# moved version the version (GetItem NODES/VERSION), the nodes (query of NODES) and stock levels
# (query of SKU#<sku>)
PLAN_ACTIONS = ("dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem")
# the order, its SKUs' stock records and the network (its version in the same BatchGetItem)
PLAN_PARTITIONS = ("order", "stock", "network")
# list requests (GSI1), read the order; dispatch: update shipment (with its timeline entry), header and
# stock; nodes: read one (GetItem) or list them (Query), write one (Put) with the network's version (Update)
# (+ ConditionCheck: a large shipment's parts are dispatched checking the order, then checked shipped)
ROUTE_API_ACTIONS = ("dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:PutItem",
                     "dynamodb:ConditionCheckItem")
ROUTE_API_PARTITIONS = ("order", "stock", "network", "node_shipments")


class Route(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, functions: LambdaFunctions, data: Data,
                 api: Api, monitoring: Monitoring) -> None:
        super().__init__(scope, construct_id)
        self.plan_function = functions.python_function(
            self, "PlanFunction", capability="route", role="plan", handler=f"{HANDLERS}.plan.lambda_handler",
            description="order_fulfillment task: which node ships which units",
        )
        data.grant(self.plan_function, PLAN_ACTIONS, partitions=PLAN_PARTITIONS)
        monitoring.watch_worker(self.plan_function)

        self.api_function = functions.python_function(
            self, "ApiFunction", capability="route", role="api", handler=f"{HANDLERS}.api.lambda_handler",
            description="Fulfilment API for nodes (requests, dispatch confirmations) and node management",
        )
        data.grant(self.api_function, ROUTE_API_ACTIONS, partitions=ROUTE_API_PARTITIONS)
        api.add_prefix("shipments", self.api_function, methods=("GET",))
        api.add_prefix("nodes", self.api_function, methods=("GET",))
        monitoring.watch_api_function("RouteApi", self.api_function)
