"""Allocate: stock per SKU per node, availability and promise dates.

| function | triggered by | may |
|---|---|---|
| api | API: `/inventory/*`, `/availability` | ALLOCATE_API_ACTIONS on the table (no index) |
| reserve | order_fulfillment task `Reserve` | RESERVE_ACTIONS |
| backorder | order_fulfillment task `Backorder` | RESERVATION_ACTIONS |

The stock decrement at dispatch comes with the rest of the order lifecycle.
"""

from __future__ import annotations

from constructs import Construct

from infra.constructs.api import Api
from infra.constructs.data import Data
from infra.constructs.functions import LambdaFunctions
from infra.constructs.monitoring import Monitoring

HANDLERS = "functions.allocate.handlers"
# read stock levels (query SKU#<sku>) and the node network (query NODES); set a node's on_hand
ALLOCATE_API_ACTIONS = ("dynamodb:Query", "dynamodb:UpdateItem")
ALLOCATE_API_PARTITIONS = ("stock", "network")
# one transaction: update the order header (its timeline entry inside) and stock records, put
# the shipments (Reserve); on a failed condition, read the header to tell a repeat from a
# cancelled order
RESERVATION_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem")
# a large order's Reserve (in parts) also reads its parts (Query), releases a stale one (Delete
# in a transaction) and checks the claim while doing so (ConditionCheck)
RESERVE_ACTIONS = (*RESERVATION_ACTIONS, "dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem")
RESERVE_PARTITIONS = ("order", "stock")
BACKORDER_PARTITIONS = ("order", "stock")  # its waiting entries are in the SKUs' partitions


class Allocate(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: LambdaFunctions,
        data: Data,
        api: Api,
        monitoring: Monitoring,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api_function = functions.python_function(
            self,
            "ApiFunction",
            capability="allocate",
            role="api",
            handler=f"{HANDLERS}.api.lambda_handler",
            description="Inventory and availability API",
        )
        # the node network is read from the table, consistently
        data.grant(self.api_function, ALLOCATE_API_ACTIONS, partitions=ALLOCATE_API_PARTITIONS)
        api.add_prefix("inventory", self.api_function, methods=())  # only /inventory/{sku}/…
        api.add_prefix("availability", self.api_function, methods=("POST",), proxy=False)
        monitoring.watch_api_function("AllocateApi", self.api_function)

        self.reserve_function = functions.python_function(
            self, "ReserveFunction", capability="allocate", role="reserve",
            handler=f"{HANDLERS}.reserve.lambda_handler",
            description="order_fulfillment task: reserve the plan all-or-nothing",
        )
        self.backorder_function = functions.python_function(
            self, "BackorderFunction", capability="allocate", role="backorder",
            handler=f"{HANDLERS}.backorder.lambda_handler",
            description="order_fulfillment task: no plan possible, the order waits for stock",
        )
        for task, actions, partitions in ((self.reserve_function, RESERVE_ACTIONS, RESERVE_PARTITIONS),
                                          (self.backorder_function, RESERVATION_ACTIONS, BACKORDER_PARTITIONS)):
            data.grant(task, actions, partitions=partitions)
            monitoring.watch_worker(task)
