"""Hashed API-key items in the single table, and API Gateway keys in usage plans.

Key ``APIKEY#<sha256>`` / ``APIKEY``: the authorizer's GetItem. Every key is also listed through
GSI1 ``APIKEYS`` / ``<role>#<principal>#<created>`` (operators list and rotate keys without a
Scan); the projected ``summary`` carries the whole record — which never includes the key value.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from botocore.exceptions import ClientError

from functions.access.keys import ApiKeyRecord
from functions.core.adapters.aws import client
from functions.core.adapters.dynamodb import TableAdapter, from_item, to_item, to_value, to_values
from functions.core.adapters.keys import API_KEYS, api_key_key, api_key_listing


def key_item(record: ApiKeyRecord) -> dict[str, Any]:
    summary = {k: v for k, v in asdict(record).items() if v is not None}
    return {**api_key_key(record.key_hash), "type": "api_key", **summary,
            "GSI1PK": API_KEYS, "GSI1SK": api_key_listing(record.role, record.principal_id, record.created_at),
            "summary": summary}


def record_from(d: dict[str, Any]) -> ApiKeyRecord:
    return ApiKeyRecord(key_hash=d["key_hash"], role=d["role"], principal_id=d["principal_id"],
                        enabled=bool(d["enabled"]), created_at=d["created_at"], name=d["name"],
                        gateway_key_id=d.get("gateway_key_id"), not_after=d.get("not_after"))


class DynamoKeyStore(TableAdapter):
    def get(self, key_hash: str) -> ApiKeyRecord | None:
        item = self.db.get_item(TableName=self.table, Key=to_item(api_key_key(key_hash))).get("Item")
        return record_from({"key_hash": key_hash, **from_item(item)}) if item else None

    def put(self, record: ApiKeyRecord) -> None:
        self.db.put_item(TableName=self.table, Item=to_item(key_item(record)))

    def set_enabled(self, key_hash: str, enabled: bool) -> None:
        self._change(key_hash, enabled=enabled)

    def set_not_after(self, key_hash: str, not_after: str) -> None:
        self._change(key_hash, not_after=not_after)

    def _change(self, key_hash: str, **changes: Any) -> None:
        """Set fields of a key record and of its listed summary in one conditional update (two
        operators revoking and rotating at once cannot undo each other). A record without a
        summary (issued before keys were listed) is written again whole, which lists it."""
        names = {f"#f{i}": name for i, name in enumerate(changes)} | {"#sum": "summary"}
        values = {f":v{i}": value for i, value in enumerate(changes.values())}
        sets = [f"{f} = {v}, #sum.{f} = {v}" for f, v in zip(list(names)[:-1], values, strict=True)]
        try:
            self.db.update_item(TableName=self.table, Key=to_item(api_key_key(key_hash)),
                                UpdateExpression="SET " + ", ".join(sets),
                                ConditionExpression="attribute_exists(PK) AND attribute_exists(#sum)",
                                ExpressionAttributeNames=names, ExpressionAttributeValues=to_values(values))
            return
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        record = self.get(key_hash)
        if record is None:
            raise LookupError(f"no API key {key_hash[:8]}…")
        self.db.put_item(TableName=self.table, Item=to_item(key_item(replace(record, **changes))),
                         ConditionExpression="attribute_exists(PK)")

    def listing(self, role: str | None = None, principal_id: str | None = None) -> list[ApiKeyRecord]:
        condition, values = "GSI1PK = :p", {":p": to_value(API_KEYS)}
        if role is not None:
            condition += " AND begins_with(GSI1SK, :sk)"
            values[":sk"] = to_value(api_key_listing(role, principal_id))
        kwargs: dict[str, Any] = {"TableName": self.table, "IndexName": "GSI1", "KeyConditionExpression": condition,
                                  "ExpressionAttributeValues": values}
        records: list[ApiKeyRecord] = []
        while True:
            page = self.db.query(**kwargs)
            records += [record_from(from_item(i)["summary"]) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if principal_id is not None:
            records = [r for r in records if r.principal_id == principal_id]
        return sorted(records, key=lambda r: r.created_at)


#: Stack output that holds each role's usage plan id (infra/stack.py writes them).
USAGE_PLAN_OUTPUTS = {"channel": "UsagePlanChannel", "node": "UsagePlanNode", "agent": "UsagePlanAgent",
                      "finance": "UsagePlanFinance"}


class ApiGatewayKeys:
    """Keys in API Gateway, each attached to its role's usage plan (ids from the stack outputs)."""

    def __init__(self, usage_plans: dict[str, str], apigw_client: Any = None) -> None:
        self.usage_plans = usage_plans
        self._client = apigw_client

    @property
    def api(self) -> Any:
        return self._client or client("apigateway")

    def register(self, name: str, key_hash: str, role: str) -> str:
        key = self.api.create_api_key(name=name, value=key_hash, enabled=True,
                                      description=f"OMS {role} key", tags={"role": role})
        self.api.create_usage_plan_key(usagePlanId=self.usage_plans[role], keyId=key["id"], keyType="API_KEY")
        return str(key["id"])

    def set_enabled(self, gateway_key_id: str, enabled: bool) -> None:
        self.api.update_api_key(apiKey=gateway_key_id, patchOperations=[
            {"op": "replace", "path": "/enabled", "value": "true" if enabled else "false"}])
