"""The open orders' index (GSI4, sparse, KEYS_ONLY; docs/ARCHITECTURE.md "Single table"): a
header is on it from the capture's Put until a transition into a final status REMOVEs its
``GSI4PK``/``GSI4SK``. One Query per shard finds the orders due (``GSI4SK <= now``); a check
moves the header's ``GSI4SK`` forward with a conditional update (the rare path only)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from functions.core.adapters.dynamodb import TableAdapter, from_item, is_retryable, to_item, to_values
from functions.core.adapters.keys import (
    CLOSE_OPEN_ORDER,
    OPEN_INDEX,
    OPEN_INDEX_PK,
    OPEN_INDEX_SK,
    OPEN_SHARDS,
    header_key,
    open_orders,
    open_sort_key,
    order_id_of_pk,
)
from functions.core.errors import TransientError
from functions.core.orders import OrderStatus
from functions.reconcile.ports import Due

_FINAL = sorted(s.value for s in (OrderStatus.COMPLETED, OrderStatus.CANCELLED))


class OpenOrderIndex(TableAdapter):
    def shards(self) -> range:
        return range(OPEN_SHARDS)

    def due(self, shard: int, now: str, limit: int) -> list[Due]:
        try:
            page = self.db.query(
                TableName=self.table, IndexName=OPEN_INDEX, Limit=limit,
                KeyConditionExpression="#pk = :pk AND #sk <= :now",
                ExpressionAttributeNames={"#pk": OPEN_INDEX_PK, "#sk": OPEN_INDEX_SK},
                # every entry due at or before `now`, whatever its order id ("~" sorts after them)
                ExpressionAttributeValues=to_values({":pk": open_orders(shard), ":now": open_sort_key(now, "~")}))
        except ClientError as exc:
            if is_retryable(exc):
                raise TransientError(f"reading the open orders of shard {shard}: {exc}") from exc
            raise
        found = []
        for item in page.get("Items", []):
            row = from_item(item)
            found.append(Due(order_id=order_id_of_pk(str(row["PK"])), check_after=str(row[OPEN_INDEX_SK])))
        return found

    def _update(self, due: Due, **kwargs: Any) -> bool:
        try:
            self.db.update_item(TableName=self.table, Key=to_item(header_key(due.order_id)), **kwargs)
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False  # completed, cancelled or checked by another run meanwhile
            if is_retryable(exc):
                raise TransientError(f"postponing the check of {due.order_id}: {exc}") from exc
            raise

    def postpone(self, due: Due, check_after: str) -> bool:
        return self._update(
            due, UpdateExpression="SET #sk = :next", ConditionExpression="#sk = :seen",
            ExpressionAttributeNames={"#sk": OPEN_INDEX_SK},
            ExpressionAttributeValues=to_values({":seen": due.check_after,
                                                 ":next": open_sort_key(check_after, due.order_id)}))

    def close(self, due: Due) -> bool:
        return self._update(
            due, UpdateExpression=f"REMOVE {CLOSE_OPEN_ORDER}",
            ConditionExpression="#sk = :seen AND #s IN (:f0, :f1)",
            ExpressionAttributeNames={"#sk": OPEN_INDEX_SK, "#s": "status"},
            ExpressionAttributeValues=to_values({":seen": due.check_after, ":f0": _FINAL[0], ":f1": _FINAL[1]}))
