"""Event-filter patterns of the table stream's consumers, shared by the capabilities that react
to the same change (functions/core/adapters/changes.py checks the same conditions in the handlers)."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_lambda as lambda_

SHIPMENT_DISPATCHED: dict[str, Any] = {
    "eventName": lambda_.FilterRule.is_equal("MODIFY"),
    "dynamodb": {"NewImage": {"SK": {"S": lambda_.FilterRule.begins_with("SHIPMENT#")},
                              "status": {"S": lambda_.FilterRule.is_equal("DISPATCHED")}},
                 "OldImage": {"status": {"S": lambda_.FilterRule.is_equal("REQUESTED")}}},
}
ORDER_CANCELLED: dict[str, Any] = {
    "eventName": lambda_.FilterRule.is_equal("MODIFY"),
    "dynamodb": {"NewImage": {"SK": {"S": lambda_.FilterRule.is_equal("ORDER")},
                              "status": {"S": lambda_.FilterRule.is_equal("CANCELLED")}},
                 "OldImage": {"status": {"S": lambda_.FilterRule.not_equals("CANCELLED")}}},
}
RETURN_AUTHORIZED: dict[str, Any] = {
    "eventName": lambda_.FilterRule.is_equal("INSERT"),
    "dynamodb": {"NewImage": {"SK": {"S": lambda_.FilterRule.begins_with("RETURN#")}}},
}
CREDIT_NOTE_REFUNDED: dict[str, Any] = {
    "eventName": lambda_.FilterRule.is_equal("MODIFY"),
    "dynamodb": {"NewImage": {"SK": {"S": lambda_.FilterRule.begins_with("CREDITNOTE#")},
                              "refunded_at": {"S": lambda_.FilterRule.exists()}},
                 "OldImage": {"refunded_at": {"S": lambda_.FilterRule.not_exists()}}},
}
