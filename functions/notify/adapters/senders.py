"""Email through SES (v2) and SMS through SNS, behind the ``Mailer`` and ``Texter`` ports."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from functions.core.adapters.aws import client
from functions.core.errors import TransientError

#: Throttles and outages: the notice is withdrawn and the workflow or stream retries it.
RETRYABLE = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException", "LimitExceededException",
                       "ServiceUnavailable", "InternalFailure", "InternalError"})


def _call(service: str, operation: Any, **kwargs: Any) -> dict[str, Any]:
    """Send, turning a throttle or outage into TransientError (retried) and anything else into a failure."""
    try:
        result: dict[str, Any] = operation(**kwargs)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code", "") in RETRYABLE:
            raise TransientError(f"{service}: {exc}") from exc
        raise
    return result


class SesMailer:
    def __init__(self, ses_client: Any = None) -> None:
        self._client = ses_client

    def send(self, *, sender: str, to: str, subject: str, text: str, html: str, tags: dict[str, str]) -> str:
        c = self._client or client("sesv2")
        result = _call("SES", c.send_email,
            FromEmailAddress=sender, Destination={"ToAddresses": [to]},
            Content={"Simple": {"Subject": {"Data": subject, "Charset": "UTF-8"},
                                "Body": {"Text": {"Data": text, "Charset": "UTF-8"},
                                         "Html": {"Data": html, "Charset": "UTF-8"}}}},
            EmailTags=[{"Name": k, "Value": v} for k, v in tags.items()],
        )
        return str(result["MessageId"])


class SnsTexter:
    def __init__(self, sns_client: Any = None) -> None:
        self._client = sns_client

    def send(self, *, to: str, text: str, tags: dict[str, str]) -> str:
        c = self._client or client("sns")
        result = _call("SNS", c.publish, PhoneNumber=to, Message=text, MessageAttributes={
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}})
        return str(result["MessageId"])
