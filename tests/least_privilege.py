"""Least privilege, held to what the functions really do.

The local cloud enforces no IAM, so a function whose policy lacks a partition it uses would only
fail on AWS. Instead the meter (localcloud/meter.py) records the partition key every DynamoDB
call of every function names (per IAM action and resource: the table, or the index a Query
reads), and at the end of the integration and the e2e session (the ``cloud`` and ``stack``
fixtures' teardown) :func:`verify` compares them with the function's policy in the template the
local cloud deployed, evaluated as IAM does: an allow statement for the action and resource,
with ``ForAllValues:StringLike`` on ``dynamodb:LeadingKeys`` (a call naming no partition, a
Scan, passes ``ForAllValues`` — which is why no function may be granted Scan,
tests/infra/test_infra_security_and_monitoring.py). A call no statement allows fails the
session, naming the function, the action and the partition to declare in its construct
(``data.grant(..., partitions=...)``, infra/constructs/data.py). A pattern no call matched is a
warning: granted but never exercised by the suites. Both land in ``.cache/least-privilege/``.
"""

from __future__ import annotations

import json
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPORTS = Path(__file__).resolve().parents[1] / ".cache" / "least-privilege"
LEADING_KEYS = "dynamodb:LeadingKeys"


@dataclass(frozen=True)
class Statement:
    actions: tuple[str, ...]
    resources: tuple[tuple[str, str], ...]  # (table logical id or "*", "" for the table, index name or "*")
    patterns: tuple[str, ...] | None  # LeadingKeys patterns; None: no LeadingKeys condition

    def allows(self, action: str, table: str, index: str, value: str | None) -> bool:
        if not any(_like(a.lower(), action.lower()) for a in self.actions):
            return False
        if not any(t in ("*", table) and (i == index or (i == "*" and index)) for t, i in self.resources):
            return False
        if self.patterns is None or value is None:  # ForAllValues over no key at all is true
            return True
        return any(_like(p, value) for p in self.patterns)


def _like(pattern: str, value: str) -> bool:
    """IAM StringLike: ``*`` any characters, ``?`` one, case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _resource(value: Any, tables: set[str]) -> tuple[str, str] | None:
    if value == "*":
        return ("*", "*")
    if isinstance(value, dict) and "Fn::GetAtt" in value and value["Fn::GetAtt"][0] in tables:
        return (value["Fn::GetAtt"][0], "")
    if isinstance(value, dict) and "Fn::Join" in value:
        parts = value["Fn::Join"][1]
        if len(parts) == 2 and isinstance(parts[1], str) and parts[1].startswith("/index/"):
            table = _resource(parts[0], tables)
            if table is not None and table[0] != "*":
                return (table[0], parts[1].removeprefix("/index/"))
    return None


def _patterns(condition: dict[str, Any]) -> tuple[str, ...] | None:
    for operator in ("ForAllValues:StringLike", "ForAllValues:StringEquals"):
        found = (condition.get(operator) or {}).get(LEADING_KEYS)
        if found is not None:
            return tuple([found] if isinstance(found, str) else found)
    return None


def policies(template: dict[str, Any]) -> dict[str, list[Statement]]:
    """Each function's (by ``FunctionName``) allow statements on the template's tables."""
    resources = template["Resources"]
    tables = {k for k, v in resources.items() if v["Type"] == "AWS::DynamoDB::Table"}
    by_role: dict[str, list[Statement]] = defaultdict(list)
    for resource in resources.values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        props = resource["Properties"]
        for raw in props["PolicyDocument"]["Statement"]:
            if raw.get("Effect") != "Allow":
                continue
            actions = raw["Action"] if isinstance(raw["Action"], list) else [raw["Action"]]
            if not any(a.startswith("dynamodb:") or a == "*" for a in actions):
                continue
            found = [r for r in (_resource(x, tables) for x in (raw["Resource"] if isinstance(raw["Resource"], list)
                                                                 else [raw["Resource"]])) if r is not None]
            if not found:
                continue
            statement = Statement(tuple(actions), tuple(found), _patterns(raw.get("Condition") or {}))
            for role in props.get("Roles", []):
                by_role[role["Ref"]].append(statement)
    functions: dict[str, list[Statement]] = {}
    for resource in resources.values():
        if resource["Type"] == "AWS::Lambda::Function":
            props = resource["Properties"]
            name, role = props.get("FunctionName"), props["Role"]
            if isinstance(name, str) and isinstance(role, dict) and "Fn::GetAtt" in role:
                functions[name] = by_role.get(role["Fn::GetAtt"][0], [])
    return functions


@dataclass(frozen=True)
class Findings:
    violations: list[str]
    unexercised: list[str]


def compare(observed: list[dict[str, Any]], template: dict[str, Any], table_ids: dict[str, str]) -> Findings:
    """``observed``: the meter's ``leading_keys()``; ``table_ids``: physical table name -> logical id."""
    granted = policies(template)
    violations: list[str] = []
    matched: set[tuple[str, int, str]] = set()
    for entry in observed:
        function = entry["function"]
        if function not in granted:
            continue  # not a function of this stack (a localcloud test's probe)
        table_name, _, index = entry["resource"].partition("/index/")
        table = table_ids.get(table_name)
        if table is None:
            continue
        statements = granted[function]
        for raw in entry["values"]:
            value = raw or None
            allowing = [s for s in statements if s.allows(entry["action"], table, index, value)]
            if not allowing:
                where = f"index {index}" if index else "the table"
                allowed = sorted({p for s in statements if s.allows(entry["action"], table, index, None)
                                  for p in (s.patterns or ("<any>",))})
                grants = (f"allows it only on partitions {allowed}" if allowed
                          else f"grants no {entry['action']} there")
                violations.append(f"{function}: {entry['action']} on {where} with partition key {value!r}, but its "
                                  f"policy {grants}: declare the partition (and action) next to its grants in its "
                                  "construct (data.grant(..., partitions=...))")
            for s in allowing:
                for pattern in s.patterns or ():
                    if value is not None and _like(pattern, value):
                        matched.add((function, id(s), pattern))
    unexercised = sorted({f"{function}: {pattern} ({', '.join(s.actions)})"
                          for function, statements in granted.items() for s in statements
                          for pattern in s.patterns or () if (function, id(s), pattern) not in matched})
    return Findings(violations, unexercised)


def verify(suite: str, observed: list[dict[str, Any]], template: dict[str, Any], table_ids: dict[str, str]) -> None:
    """Fail the session on a partition a function used without its policy allowing it; warn on
    patterns never exercised; write both (and what was observed) to .cache/least-privilege/."""
    findings = compare(observed, template, table_ids)
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{suite}.json").write_text(json.dumps(
        {"violations": findings.violations, "unexercised": findings.unexercised, "observed": observed}, indent=1))
    if findings.unexercised:
        warnings.warn(f"{suite}: {len(findings.unexercised)} LeadingKeys patterns never exercised "
                      f"(granted, never used by these tests): " + "; ".join(findings.unexercised), stacklevel=2)
    if findings.violations:
        pytest.fail(f"{suite}: functions touched partitions their policies do not allow:\n  "
                    + "\n  ".join(findings.violations), pytrace=False)


def deployed(cloudformation: Any, stack_name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The template the local cloud deployed, and its tables' physical names -> logical ids."""
    template = cloudformation.get_template(StackName=stack_name)["TemplateBody"]
    template = json.loads(template) if isinstance(template, str) else dict(template)
    tables = {r["PhysicalResourceId"]: r["LogicalResourceId"]
              for r in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
              if r["ResourceType"] == "AWS::DynamoDB::Table"}
    return template, tables
