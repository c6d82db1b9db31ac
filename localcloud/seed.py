"""Seed the local stack: API keys (through the same key management as every environment),
the verified sender identity, the legal entity, nodes and a B2B credit account.

Idempotent: seeding twice leaves one of everything.
"""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

SEED = Path(__file__).with_name("seed.json")
ROLE_OUTPUTS = {"channel": "UsagePlanChannel", "node": "UsagePlanNode", "agent": "UsagePlanAgent",
                "finance": "UsagePlanFinance"}


def seed(deployment: Any) -> dict[str, Any]:
    import boto3

    from functions.access.adapters.key_store import ApiGatewayKeys, DynamoKeyStore
    from functions.access.keys import KeyManager
    from functions.core.adapters.dynamodb import to_item

    data = json.loads(SEED.read_text())
    outputs = deployment.outputs
    table = outputs["TableName"]
    plans = {role: outputs[name] for role, name in ROLE_OUTPUTS.items()}
    manager = KeyManager(DynamoKeyStore(table, boto3.client("dynamodb")),
                         ApiGatewayKeys(plans, boto3.client("apigateway")))
    keys = {}
    for key in data["api_keys"]:
        manager.issue(key["role"], key["principal_id"], value=key["value"])
        keys[key["value"]] = f"{key['role']} {key['principal_id']}"

    boto3.client("ses").verify_email_identity(EmailAddress=data["sender"])

    ddb = boto3.client("dynamodb")
    entity = data["legal_entity"]
    items: list[dict[str, Any]] = [{"PK": f"ENTITY#{entity['id']}", "SK": "ENTITY", "type": "legal_entity", **entity}]
    items += [{"PK": f"NODE#{n['node_id']}", "SK": "NODE", "type": "node", **n} for n in data["nodes"]]
    for acct in data["credit_accounts"]:
        items.append({"PK": f"CUSTOMER#{acct['channel']}#{acct['customer_id']}", "SK": "CREDIT",
                      "type": "credit_account", "currency": acct["currency"],
                      "credit_limit": acct["credit_limit"], "exposure": 0, "available_credit": acct["credit_limit"]})
    for item in items:
        # numbers that conditional writes compare and add must be numbers, not strings
        for attr in ("available_credit", "exposure", "priority"):
            if attr in item:
                item[attr] = Decimal(str(item[attr]))
        with contextlib.suppress(ddb.exceptions.ConditionalCheckFailedException):
            ddb.put_item(TableName=table, Item=to_item(item), ConditionExpression="attribute_not_exists(PK)")
    return {"api_keys": keys, "sender": data["sender"], "nodes": [n["node_id"] for n in data["nodes"]]}
