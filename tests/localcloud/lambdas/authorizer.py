"""REQUEST authorizer for the front door tests, keyed by the x-api-key header value."""

from __future__ import annotations

from typing import Any

KEYS = {
    "local-channel-key-0001": "allow",
    "local-deny-key-000001": "deny",
    "local-boom-key-000001": "boom",
    "local-planless-key-01": "allow",
}
CALLS: list[str] = []


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    key = event["headers"]["x-api-key"]
    CALLS.append(key)
    verdict = KEYS.get(key)
    if verdict is None:
        raise Exception("Unauthorized")
    if verdict == "boom":
        raise RuntimeError("table unavailable")
    api_arn = event["methodArn"].split("/", 1)[0]
    stage = event["methodArn"].split("/")[1]
    return {
        "principalId": "webshop",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow" if verdict == "allow" else "Deny",
                    "Resource": f"{api_arn}/{stage}/*/*",
                }
            ],
        },
        "usageIdentifierKey": key,
        "context": {"role": "channel", "principal_id": "webshop"},
    }
