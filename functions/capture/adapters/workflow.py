"""Workflow start claims (on the order header) and the Step Functions starter."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from functions.core.adapters.dynamodb import TableAdapter, from_item, to_item, to_value
from functions.core.adapters.keys import order_pk
from functions.core.adapters.order_table import ORDER_SK, event_item
from functions.core.orders import OrderStatus, TimelineEntry

#: The workflow may take an order on from these statuses (not once cancelled).
ACCEPTABLE = (OrderStatus.CAPTURED.value, OrderStatus.BACKORDERED.value)


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] in ("ConditionalCheckFailedException", "TransactionCanceledException")


class OrderWorkflowClaims(TableAdapter):
    def _key(self, order_id: str) -> dict[str, Any]:
        return to_item({"PK": order_pk(order_id), "SK": ORDER_SK})

    def claim_start(self, order_id: str, execution_name: str, at: str) -> bool:
        try:
            self.db.update_item(
                TableName=self.table, Key=self._key(order_id),
                UpdateExpression="SET #w = :w",
                ConditionExpression="attribute_exists(PK) AND attribute_not_exists(#w)",
                ExpressionAttributeNames={"#w": "workflow"},
                ExpressionAttributeValues={":w": to_value({"execution_name": execution_name, "claimed_at": at})},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def release_claim(self, order_id: str, execution_name: str) -> None:
        try:
            self.db.update_item(
                TableName=self.table, Key=self._key(order_id), UpdateExpression="REMOVE #w",
                ConditionExpression="#w.execution_name = :n",
                ExpressionAttributeNames={"#w": "workflow"},
                ExpressionAttributeValues={":n": to_value(execution_name)},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def accept(self, order_id: str, execution_id: str, entry: TimelineEntry) -> tuple[str, bool]:
        for _ in range(2):
            item = self.db.get_item(TableName=self.table, Key=self._key(order_id), ConsistentRead=True).get("Item")
            if item is None:
                return "MISSING", False
            header = from_item(item)
            accepted_by = (header.get("workflow") or {}).get("accepted_by")
            if accepted_by:
                return header["status"], accepted_by == execution_id
            if header["status"] not in ACCEPTABLE:
                return header["status"], False
            try:
                self.db.transact_write_items(TransactItems=[
                    {"Update": {
                        "TableName": self.table, "Key": self._key(order_id),
                        "UpdateExpression": "SET #w.accepted_by = :e",
                        "ConditionExpression": "attribute_not_exists(#w.accepted_by) AND #s IN (:a, :b)",
                        "ExpressionAttributeNames": {"#w": "workflow", "#s": "status"},
                        "ExpressionAttributeValues": {":e": to_value(execution_id), ":a": to_value(ACCEPTABLE[0]),
                                                      ":b": to_value(ACCEPTABLE[1])}}},
                    {"Put": {"TableName": self.table, "Item": to_item(event_item(order_id, entry))}},
                ])
            except ClientError as exc:
                if _conditional_failed(exc):
                    continue  # someone else moved first: read again and decide
                raise
            return header["status"], True
        return "CONFLICT", False
