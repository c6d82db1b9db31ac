"""Proxy integration for the front door tests: echoes the event, or misbehaves on request."""

from __future__ import annotations

import json
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    path = event["path"]
    if path.endswith("/raise"):
        raise RuntimeError("integration failed")
    if path.endswith("/malformed"):
        return {"body": "no status code"}
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps(event),
    }
