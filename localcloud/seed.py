"""Seed the local stack: the nodes and API keys (through the same node and key management as
every environment: ``PUT /nodes`` and ``oms nodes put`` call that use case too), the verified
sender identity, the legal entity and a B2B credit account (through finance's use case, as
``PUT /customers/{channel}/{customer_id}/credit`` and ``oms customers credit`` do).

Idempotent: seeding twice leaves one of everything.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

SEED = Path(__file__).with_name("seed.json")
#: Who the seed's node writes are recorded as.
SEEDER_ID = "local-seed"


def seed(deployment: Any) -> dict[str, Any]:
    import boto3

    from functions.access.wiring import key_manager
    from functions.core.adapters.dynamodb import to_item
    from functions.core.adapters.keys import legal_entity_key
    from functions.core.principal import Principal
    from functions.invoice.receivables import AccountTerms
    from functions.invoice.wiring import receivables_service
    from functions.route.models import NodeIn
    from functions.route.wiring import node_service

    data = json.loads(SEED.read_text())
    table = deployment.outputs["TableName"]
    nodes = node_service(table)
    for node_id, node in data["nodes"].items():  # the same definition again writes nothing
        nodes.put(node_id, NodeIn.model_validate(node).to_command(), Principal("agent", SEEDER_ID))
    manager = key_manager(dict(deployment.outputs))
    keys = {}
    for key in data["api_keys"]:
        manager.issue(key["role"], key["principal_id"], value=key["value"])
        keys[key["value"]] = f"{key['role']} {key['principal_id']}"

    boto3.client("ses").verify_email_identity(EmailAddress=data["sender"])

    ddb = boto3.client("dynamodb")
    entity = data["legal_entity"]
    items: list[dict[str, Any]] = [{**legal_entity_key(entity["id"]), "type": "legal_entity", **entity}]
    receivables = receivables_service(table)
    for acct in data["credit_accounts"]:  # the same account again keeps what it is owed
        receivables.put_account(acct["channel"], acct["customer_id"], AccountTerms(
            currency=acct["currency"], credit_limit=acct["credit_limit"],
            payment_terms_days=int(acct["payment_terms_days"])))
    for item in items:
        with contextlib.suppress(ddb.exceptions.ConditionalCheckFailedException):  # seeding twice changes nothing
            ddb.put_item(TableName=table, Item=to_item(item), ConditionExpression="attribute_not_exists(PK)")
    return {"api_keys": keys, "sender": data["sender"], "nodes": list(data["nodes"])}
