"""moto's SESv2 SendEmail keeps one body and no tags; ``patches/ses_content.py`` keeps what SES
accepted whole, and the local outbox lists every message the emulator accepted."""

from __future__ import annotations

from email.message import EmailMessage

from localcloud.outbox import accepted_emails, accepted_sms
from tests.localcloud.support import client

SENDER = "orders@acme.example"


def _send(subject: str) -> str:
    reply = client("sesv2").send_email(
        FromEmailAddress=SENDER, Destination={"ToAddresses": ["ada@example.com"]},
        Content={"Simple": {"Subject": {"Data": subject}, "Body": {"Text": {"Data": "plain words"},
                                                                   "Html": {"Data": "<p>html words</p>"}}}},
        EmailTags=[{"Name": "order_id", "Value": "o-1"}, {"Name": "kind", "Value": "order_confirmed"}])
    return str(reply["MessageId"])


def test_an_email_sent_twice_is_listed_twice_with_its_text_html_and_tags(aws: None) -> None:
    client("ses").verify_email_identity(EmailAddress=SENDER)
    ids = [_send("Your order is confirmed"), _send("Your order is confirmed")]
    raw = EmailMessage()
    raw["Subject"], raw["From"], raw["To"] = "Raw one", SENDER, "bob@example.com"
    raw.set_content("raw text")
    raw.add_alternative("<p>raw html</p>", subtype="html")
    client("sesv2").send_email(FromEmailAddress=SENDER, Destination={"ToAddresses": ["bob@example.com"]},
                               Content={"Raw": {"Data": raw.as_bytes()}})
    first, second, third = accepted_emails()
    assert [first["message_id"], second["message_id"]] == ids
    assert first["text"] == "plain words" and first["html"] == "<p>html words</p>"
    assert first["tags"] == {"order_id": "o-1", "kind": "order_confirmed"} and first["to"] == ["ada@example.com"]
    assert (third["subject"], third["text"].strip(), third["html"].strip()) == ("Raw one", "raw text",
                                                                               "<p>raw html</p>")


def test_every_sms_sns_accepted_is_listed(aws: None) -> None:
    sns = client("sns")
    ids = [sns.publish(PhoneNumber="+4915112345678", Message="on its way")["MessageId"] for _ in range(2)]
    assert [(m["message_id"], m["to"], m["text"]) for m in accepted_sms()] == [
        (i, "+4915112345678", "on its way") for i in ids]
