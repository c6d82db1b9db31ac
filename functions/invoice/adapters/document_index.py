"""Finance's listing of the issued documents and the look-up by number, on the single table's
indexes: GSI1 ``INVOICES#<legal entity>#<yyyy-mm>`` / ``<issued_at>#<number>`` (invoices and
credit notes of a month, in order of issue; the view projected in ``summary``) and GSI2
``DOCUMENT#<number>`` (the one item of a number, which names its order)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from functions.core.adapters.dynamodb import TableAdapter, from_item, to_value
from functions.core.adapters.keys import document_by_number, invoices_of_month, order_id_of_pk
from functions.core.adapters.paging import decode_token, encode_token
from functions.core.errors import BadRequest

#: Reads one listing call may make to fill a page when a kind filters most of a month out.
PAGES_PER_CALL = 10


class DocumentIndexTable(TableAdapter):
    def month(self, legal_entity: str, month: str, *, first: str, last: str, kind: str | None, limit: int,
              token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        partition = invoices_of_month(legal_entity, month)
        kwargs: dict[str, Any] = {
            "TableName": self.table, "IndexName": "GSI1", "Limit": limit,
            # ``<issued_at>#<number>``: from the first day's midnight to past the last day's end
            "KeyConditionExpression": "GSI1PK = :pk AND GSI1SK BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {":pk": to_value(partition), ":lo": to_value(first),
                                          ":hi": to_value(f"{last}T~")},
        }
        if kind:
            kwargs["FilterExpression"] = "#sum.#kind = :kind"
            kwargs["ExpressionAttributeNames"] = {"#sum": "summary", "#kind": "kind"}
            kwargs["ExpressionAttributeValues"][":kind"] = to_value(kind)
        start = decode_token(token, index_pk="GSI1PK", partition=partition)
        found: list[dict[str, Any]] = []
        # a kind is a filter, applied after Limit: read on within the month until the page is
        # full or the month is done (at most PAGES_PER_CALL reads), not one near-empty page a call
        for _ in range(PAGES_PER_CALL):
            if start:
                kwargs["ExclusiveStartKey"] = start
            kwargs["Limit"] = limit - len(found)
            try:
                page = self.db.query(**kwargs)
            except ClientError as exc:  # a start key outside this period's bounds (a token of another)
                if exc.response["Error"]["Code"] == "ValidationException" and start:
                    raise BadRequest("next_token does not belong to this listing") from exc
                raise
            found.extend(from_item(i)["summary"] for i in page.get("Items", []) if "summary" in i)
            start = page.get("LastEvaluatedKey")
            if not start or len(found) >= limit:
                break
        return found, encode_token(start)

    def order_of(self, number: str) -> str | None:
        page = self.db.query(TableName=self.table, IndexName="GSI2", Limit=1,
                             KeyConditionExpression="GSI2PK = :pk",
                             ExpressionAttributeValues={":pk": to_value(document_by_number(number))})
        items = page.get("Items", [])
        return order_id_of_pk(items[0]["PK"]["S"]) if items else None
