"""Route: distributed order management — the sourcing plan (and, in the lifecycle issue,
shipments, fulfilment requests and dispatch confirmations).

| function | triggered by | may |
|---|---|---|
| plan | order_fulfillment task `Plan` | PLAN_ACTIONS: read the order's items and stock; GSI1 (the node list) |
"""

from __future__ import annotations

from constructs import Construct

from infra.constructs.data import Data
from infra.constructs.functions import LambdaFunctions
from infra.constructs.monitoring import Monitoring

HANDLERS = "functions.route.handlers"
# the order (query of ORDER#<id>), stock levels (query of SKU#<sku>), nodes (query of GSI1 NODES)
PLAN_ACTIONS = ("dynamodb:Query",)


class Route(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, functions: LambdaFunctions, data: Data,
                 monitoring: Monitoring) -> None:
        super().__init__(scope, construct_id)
        self.plan_function = functions.python_function(
            self, "PlanFunction", capability="route", role="plan", handler=f"{HANDLERS}.plan.lambda_handler",
            description="order_fulfillment task: which node ships which units",
        )
        data.grant(self.plan_function, PLAN_ACTIONS, indexes=True)
        monitoring.watch_worker(self.plan_function)
