"""Notice records ``ORDER#<id>`` / ``NOTICE#<kind>#<ref>#<channel>``: the claim that makes a
notice once, and what was sent (the local outbox reads them)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from functions.core.adapters.dynamodb import TableAdapter, to_item, to_value
from functions.core.adapters.keys import order_pk
from functions.core.adapters.timeline import append_entries
from functions.core.orders import TimelineEntry


def _key(order_id: str, notice_id: str) -> dict[str, Any]:
    return to_item({"PK": order_pk(order_id), "SK": f"NOTICE#{notice_id}"})


class NoticeTable(TableAdapter):
    def claim(self, order_id: str, notice_id: str, record: dict[str, Any]) -> bool:
        item = {"PK": order_pk(order_id), "SK": f"NOTICE#{notice_id}", "type": "notice", **record}
        try:
            self.db.put_item(TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(PK)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def withdraw(self, order_id: str, notice_id: str) -> None:
        self.db.delete_item(TableName=self.table, Key=_key(order_id, notice_id),
                            ConditionExpression="#s = :sending", ExpressionAttributeNames={"#s": "status"},
                            ExpressionAttributeValues={":sending": to_value("SENDING")})

    def mark(self, order_id: str, notice_id: str, status: str, message_id: str | None, entry: TimelineEntry) -> None:
        """SENT or SKIPPED, with the order's timeline entry on the notice itself (one write)."""
        self.db.update_item(**append_entries({
            "TableName": self.table, "Key": _key(order_id, notice_id),
            "UpdateExpression": "SET #s = :status, message_id = :m",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":status": to_value(status), ":m": to_value(message_id)}}, [entry]))
