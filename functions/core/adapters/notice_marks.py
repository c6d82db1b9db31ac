"""The mark a transition leaves on the claim of a notice it makes inapplicable (capture's
cancel, allocate's Reserve of a backordered order), as one action of its own transaction:
a claim after it commits is refused by its own condition (``attribute_not_exists(PK)``) and
recorded as skipped (notify's ``adapters/notice_table.py``). Which kinds a transition
supersedes is ``core/notices.py``'s table."""

from __future__ import annotations

from typing import Any

from functions.core.adapters.dynamodb import to_item, to_values
from functions.core.adapters.keys import NOTICE_SUPERSEDED, order_notice_key


def supersede_action(table: str, order_id: str, kind: str, reason: str, at: str) -> dict[str, Any]:
    """Mark the claim of the order's ``kind`` notice as superseded. No condition: a notice
    claimed before keeps its claim (it was true when sent); only a withdrawn channel of it is
    not sent again. A mark already there is kept (the first reason stands)."""
    return {"Update": {
        "TableName": table, "Key": to_item(order_notice_key(order_id, kind)),
        "UpdateExpression": "SET #m = if_not_exists(#m, :mark), #t = if_not_exists(#t, :type), "
                            "#o = if_not_exists(#o, :order), #k = if_not_exists(#k, :kind)",
        "ExpressionAttributeNames": {"#m": NOTICE_SUPERSEDED, "#t": "type", "#o": "order_id", "#k": "kind"},
        "ExpressionAttributeValues": to_values({":mark": {"reason": reason, "at": at},
                                                ":type": "notice", ":order": order_id, ":kind": kind})}}
