"""Email through SES (v2) and SMS through SNS, behind the ``Mailer`` and ``Texter`` ports."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from functions.core.adapters.aws import client
from functions.core.errors import TransientError, is_retryable
from functions.notify.ports import SendUnconfirmed

#: botocore's errors for a request that went out and got no answer: it may have been accepted.
ANSWER_LOST = ("ReadTimeoutError", "ConnectionClosedError")


def _call(service: str, operation: Any, **kwargs: Any) -> dict[str, Any]:
    """Send, once: the client makes one attempt (``attempts=1``), never repeating a send that
    may have gone out. A throttle or outage (``core.errors.is_retryable``: THE list) is a
    TransientError (nothing went out: the notice is withdrawn and retried); a lost answer is
    ``SendUnconfirmed`` (it may have gone out: retried once more, at most); anything else is a
    failure as it came."""
    try:
        result: dict[str, Any] = operation(**kwargs)
    except ClientError as exc:
        if is_retryable(exc):
            raise TransientError(f"{service}: {exc}") from exc
        raise
    except Exception as exc:
        if type(exc).__name__ in ANSWER_LOST:
            raise SendUnconfirmed(f"{service}: {type(exc).__name__}") from exc
        raise
    return result


class SesMailer:
    def __init__(self, ses_client: Any = None) -> None:
        self._client = ses_client

    def send(self, *, sender: str, to: str, subject: str, text: str, html: str, tags: dict[str, str]) -> str:
        c = self._client or client("sesv2", attempts=1)
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
        c = self._client or client("sns", attempts=1)
        result = _call("SNS", c.publish, PhoneNumber=to, Message=text, MessageAttributes={
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}})
        return str(result["MessageId"])
