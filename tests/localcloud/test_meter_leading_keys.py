"""The meter's record of the partition keys each function's DynamoDB calls name (for the
least-privilege check, tests/least_privilege.py), as IAM would see them per action."""

from __future__ import annotations

from localcloud import meter


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def test_a_query_names_the_partition_of_the_index_it_reads_whatever_the_placeholders() -> None:
    on_index = meter._touches("Query", {"TableName": "t", "IndexName": "GSI1",
                                        "KeyConditionExpression": "#p = :pk AND begins_with(GSI1SK, :s)",
                                        "ExpressionAttributeNames": {"#p": "GSI1PK"},
                                        "ExpressionAttributeValues": {":pk": _s("NODE#DC#SHIPMENTS#REQUESTED"),
                                                                      ":s": _s("2026")}})
    assert on_index == [("Query", "t/index/GSI1", "NODE#DC#SHIPMENTS#REQUESTED")]
    on_table = meter._touches("Query", {"TableName": "t", "KeyConditionExpression": ":pk = PK",
                                        "ExpressionAttributeValues": {":pk": _s("ORDER#1")}})
    assert on_table == [("Query", "t", "ORDER#1")]
    legacy = meter._touches("Query", {"TableName": "t", "KeyConditions": {
        "PK": {"AttributeValueList": [_s("SKU#A")], "ComparisonOperator": "EQ"}}})
    assert legacy == [("Query", "t", "SKU#A")]


def test_transactions_and_batches_name_every_item_as_its_own_action() -> None:
    transaction = meter._touches("TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "t", "Item": {"PK": _s("ORDER#1"), "SK": _s("ORDER")}}},
        {"Update": {"TableName": "t", "Key": {"PK": _s("SKU#A"), "SK": _s("NODE#DC")}}},
        {"ConditionCheck": {"TableName": "t", "Key": {"PK": _s("NODES"), "SK": _s("VERSION")}}},
        {"Delete": {"TableName": "t", "Key": {"PK": _s("IDEMPOTENCY#p#h"), "SK": _s("IDEMPOTENCY")}}}]})
    assert transaction == [("PutItem", "t", "ORDER#1"), ("UpdateItem", "t", "SKU#A"),
                           ("ConditionCheckItem", "t", "NODES"), ("DeleteItem", "t", "IDEMPOTENCY#p#h")]
    batch = meter._touches("BatchWriteItem", {"RequestItems": {"t": [
        {"PutRequest": {"Item": {"PK": _s("SKU#A")}}}, {"DeleteRequest": {"Key": {"PK": _s("SKU#B")}}}]}})
    assert batch == [("BatchWriteItem", "t", "SKU#A"), ("BatchWriteItem", "t", "SKU#B")]
    assert meter._touches("Scan", {"TableName": "t"}) == [("Scan", "t", None)]


def test_only_calls_made_inside_a_function_are_recorded() -> None:
    meter.reset_leading_keys()
    meter._record_leading_keys("oms-local-route-api", "GetItem", {"TableName": "t", "Key": {"PK": _s("NODES")}})
    token = meter.enter_function("oms-local-route-plan")
    try:
        meter._before_parameter_build(params={"TableName": "t", "Key": {"PK": _s("ORDER#9")}},
                                      model=type("M", (), {"name": "GetItem"})(), context={})
    finally:
        meter.exit_function(token)
    meter._before_parameter_build(params={"TableName": "t", "Key": {"PK": _s("APIKEY#x")}},
                                  model=type("M", (), {"name": "GetItem"})(), context={})  # a test's own call
    assert meter.leading_keys() == [
        {"function": "oms-local-route-api", "action": "dynamodb:GetItem", "resource": "t", "values": ["NODES"]},
        {"function": "oms-local-route-plan", "action": "dynamodb:GetItem", "resource": "t", "values": ["ORDER#9"]}]
    meter.reset_leading_keys()
