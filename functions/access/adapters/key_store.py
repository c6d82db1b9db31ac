"""Hashed API-key items in the single table, and API Gateway keys in usage plans."""

from __future__ import annotations

from typing import Any

from functions.access.keys import ApiKeyRecord, KeyManager
from functions.core.adapters.aws import client
from functions.core.adapters.dynamodb import TableAdapter, from_item, to_item, to_value


def key_pk(key_hash: str) -> str:
    return f"APIKEY#{key_hash}"


class DynamoKeyStore(TableAdapter):
    def get(self, key_hash: str) -> ApiKeyRecord | None:
        item = self.db.get_item(TableName=self.table, Key=to_item({"PK": key_pk(key_hash), "SK": "APIKEY"})).get("Item")
        if not item:
            return None
        d = from_item(item)
        return ApiKeyRecord(key_hash=key_hash, role=d["role"], principal_id=d["principal_id"],
                            enabled=bool(d["enabled"]), created_at=d["created_at"], name=d["name"],
                            gateway_key_id=d.get("gateway_key_id"))

    def put(self, record: ApiKeyRecord) -> None:
        self.db.put_item(TableName=self.table, Item=to_item({
            "PK": key_pk(record.key_hash), "SK": "APIKEY", "type": "api_key", "role": record.role,
            "principal_id": record.principal_id, "enabled": record.enabled, "created_at": record.created_at,
            "name": record.name, "gateway_key_id": record.gateway_key_id}))

    def set_enabled(self, key_hash: str, enabled: bool) -> None:
        self.db.update_item(TableName=self.table, Key=to_item({"PK": key_pk(key_hash), "SK": "APIKEY"}),
                            UpdateExpression="SET enabled = :e", ConditionExpression="attribute_exists(PK)",
                            ExpressionAttributeValues={":e": to_value(enabled)})


#: Stack output that holds each role's usage plan id (infra/stack.py writes them).
USAGE_PLAN_OUTPUTS = {"channel": "UsagePlanChannel", "node": "UsagePlanNode", "agent": "UsagePlanAgent",
                      "finance": "UsagePlanFinance"}


def key_manager(outputs: dict[str, str]) -> KeyManager:
    """Key management for a deployed stack, wired from its outputs (CLI and local seed)."""
    plans = {role: outputs[name] for role, name in USAGE_PLAN_OUTPUTS.items()}
    return KeyManager(DynamoKeyStore(outputs["TableName"]), ApiGatewayKeys(plans))


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
