"""The least-privilege check (tests/least_privilege.py) evaluates the meter's observations as IAM
evaluates a function's policy: the template and observations here are small hand-made ones."""

from __future__ import annotations

from typing import Any

from tests.least_privilege import compare

TABLE = {"Fn::GetAtt": ["DataTable", "Arn"]}
GSI1 = {"Fn::Join": ["", [TABLE, "/index/GSI1"]]}


def _template(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Resources": {
        "DataTable": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        "RouteApiRole": {"Type": "AWS::IAM::Role", "Properties": {}},
        "RouteApi": {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": "oms-local-route-api", "Role": {"Fn::GetAtt": ["RouteApiRole", "Arn"]}}},
        "RouteApiPolicy": {"Type": "AWS::IAM::Policy", "Properties": {
            "Roles": [{"Ref": "RouteApiRole"}], "PolicyDocument": {"Statement": list(statements)}}},
    }}


def _allow(actions: list[str], resource: Any, *patterns: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resource,
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(patterns)}}}


def _seen(action: str, resource: str, *values: str) -> dict[str, Any]:
    return {"function": "oms-local-route-api", "action": action, "resource": resource, "values": list(values)}


TABLES = {"oms-table": "DataTable"}


def test_a_partition_outside_the_patterns_is_a_violation_naming_function_action_and_key() -> None:
    template = _template(_allow(["dynamodb:GetItem", "dynamodb:UpdateItem"], TABLE, "ORDER#*", "SKU#*"))
    findings = compare([_seen("dynamodb:UpdateItem", "oms-table", "ORDER#1", "APIKEY#abc")], template, TABLES)
    (violation,) = findings.violations
    assert "oms-local-route-api" in violation and "dynamodb:UpdateItem" in violation and "'APIKEY#abc'" in violation
    assert "allows it only on partitions ['ORDER#*', 'SKU#*']" in violation  # what it may touch there
    assert findings.unexercised == ["oms-local-route-api: SKU#* (dynamodb:GetItem, dynamodb:UpdateItem)"]


def test_an_index_query_is_held_to_the_index_statement_not_the_tables() -> None:
    template = _template(_allow(["dynamodb:Query"], TABLE, "ORDER#*"),
                         _allow(["dynamodb:Query"], GSI1, "NODE#*#SHIPMENTS#*"))
    ok = compare([_seen("dynamodb:Query", "oms-table/index/GSI1", "NODE#DC-1#SHIPMENTS#REQUESTED")], template, TABLES)
    assert ok.violations == []
    wrong = compare([_seen("dynamodb:Query", "oms-table/index/GSI1", "ORDER#1")], template, TABLES)
    assert len(wrong.violations) == 1 and "index GSI1" in wrong.violations[0]


def test_an_action_the_policy_does_not_grant_is_a_violation() -> None:
    template = _template(_allow(["dynamodb:GetItem"], TABLE, "ORDER#*"))
    findings = compare([_seen("dynamodb:PutItem", "oms-table", "ORDER#1")], template, TABLES)
    (violation,) = findings.violations
    assert "grants no dynamodb:PutItem there" in violation


def test_a_scan_passes_forallvalues_when_granted_as_iam_would_let_it() -> None:
    # why Scan is never granted (tests/infra): LeadingKeys cannot limit a request naming no key
    template = _template(_allow(["dynamodb:Scan"], TABLE, "ORDER#*"))
    assert compare([_seen("dynamodb:Scan", "oms-table", "")], template, TABLES).violations == []
    assert len(compare([_seen("dynamodb:Scan", "oms-table", "")], _template(), TABLES).violations) == 1


def test_calls_of_functions_outside_the_stack_are_ignored() -> None:
    observed = [{"function": "probe", "action": "dynamodb:PutItem", "resource": "oms-table", "values": ["X#1"]}]
    assert compare(observed, _template(), TABLES).violations == []
