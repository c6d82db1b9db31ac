"""Notice records ``ORDER#<id>`` / ``NOTICE#<kind>#<ref>``: one per event the customer is told
about, holding each channel (email, SMS) with its status — the claim that makes each message
once — and what was sent (the local outbox reads it). Claim and result are one write each,
whatever the number of channels."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from functions.core.adapters.dynamodb import TableAdapter, to_item, to_values
from functions.core.adapters.keys import notice_key
from functions.core.adapters.timeline import append_entries
from functions.core.orders import TimelineEntry

SENDING, SENT, SKIPPED, WITHDRAWN = "SENDING", "SENT", "SKIPPED", "WITHDRAWN"


def _key(order_id: str, notice_id: str) -> dict[str, Any]:
    return to_item(notice_key(order_id, notice_id))


def _failed(exc: ClientError) -> bool:
    return bool(exc.response["Error"]["Code"] == "ConditionalCheckFailedException")


class NoticeTable(TableAdapter):
    def claim(self, order_id: str, notice_id: str, kind: str, channels: dict[str, dict[str, Any]]) -> set[str]:
        """Claim the channels of a notice (status SENDING): the ones this call may send. A new
        notice is one conditional put; on a repeat only channels withdrawn after a failed
        send are claimed again (one conditional update each)."""
        item = {**notice_key(order_id, notice_id), "type": "notice", "order_id": order_id,
                "kind": kind, "channels": {c: {**r, "status": SENDING} for c, r in channels.items()}}
        try:
            self.db.put_item(TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(PK)")
            return set(channels)
        except ClientError as exc:
            if not _failed(exc):
                raise
        claimed = set()
        for channel, record in channels.items():
            try:
                self.db.update_item(
                    TableName=self.table, Key=_key(order_id, notice_id), UpdateExpression="SET channels.#c = :r",
                    ConditionExpression="channels.#c.#s = :withdrawn",
                    ExpressionAttributeNames={"#c": channel, "#s": "status"},
                    ExpressionAttributeValues=to_values({":r": {**record, "status": SENDING}, ":withdrawn": WITHDRAWN}))
                claimed.add(channel)
            except ClientError as exc:
                if not _failed(exc):
                    raise
        return claimed

    def record(self, order_id: str, notice_id: str, results: dict[str, tuple[str, str | None]],
               entries: list[TimelineEntry]) -> None:
        """Each claimed channel's outcome — (SENT, message id), (SKIPPED, None) or (WITHDRAWN,
        None) so a retry sends it — and the order's timeline entries, in one update."""
        if not results:
            return
        names: dict[str, str] = {"#s": "status"}
        values: dict[str, Any] = {}
        sets: list[str] = []
        for i, (channel, (status, message_id)) in enumerate(sorted(results.items())):
            names[f"#c{i}"] = channel
            values[f":s{i}"], values[f":m{i}"] = status, message_id
            sets += [f"channels.#c{i}.#s = :s{i}", f"channels.#c{i}.message_id = :m{i}"]
        self.db.update_item(**append_entries({
            "TableName": self.table, "Key": _key(order_id, notice_id), "UpdateExpression": "SET " + ", ".join(sets),
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": to_values(values)}, entries))
