"""The rendered documents: a PDF (Factur-X, the CII XML embedded) and the CII XML beside it in the
document bucket (``<legal entity>/<year>/<number>.pdf|.xml``; encrypted, versioned, retained in
prod: infra/constructs/invoice.py), and the order's mark that they are there (``ORDER#<id>`` /
``RENDERED#<number>``, put once after both files, so a link is never handed out for a file not
yet written). Links are S3 presigned GETs, signed with the reading function's role, valid
``LINK_SECONDS``: locally they name the emulator's endpoint, which the caller reaches too."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from functions.core.adapters.aws import client
from functions.core.adapters.dynamodb import TableAdapter, is_retryable, to_item
from functions.core.adapters.keys import rendered_key
from functions.core.errors import TransientError
from functions.invoice.ports import DocumentFiles

#: How long a link works: long enough to click it from the console, short enough not to be shared.
LINK_SECONDS = 900


def object_keys(legal_entity: str, number: str) -> DocumentFiles:
    year = number.split("-")[1]
    stem = f"{legal_entity}/{year}/{number}"
    return DocumentFiles(pdf_key=f"{stem}.pdf", xml_key=f"{stem}.xml")


class DocumentBucket(TableAdapter):
    def __init__(self, table_name: str, bucket: str, dynamodb_client: Any = None, s3_client: Any = None) -> None:
        super().__init__(table_name, dynamodb_client)
        self.bucket = bucket
        self._s3 = s3_client

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = client("s3")
        return self._s3

    def files(self, order_id: str, number: str) -> DocumentFiles | None:
        item = self.db.get_item(TableName=self.table, Key=to_item(rendered_key(order_id, number)),
                                ProjectionExpression="pdf_key, xml_key").get("Item")
        return DocumentFiles(pdf_key=item["pdf_key"]["S"], xml_key=item["xml_key"]["S"]) if item else None

    def link(self, key: str, filename: str) -> str:
        url: str = self.s3.generate_presigned_url(
            "get_object", ExpiresIn=LINK_SECONDS,
            Params={"Bucket": self.bucket, "Key": key, "ResponseContentDisposition": f'inline; filename="{filename}"'})
        return url

    def store(self, order_id: str, legal_entity: str, number: str, pdf: bytes, xml: bytes, at: str) -> bool:
        """Write both files, then the mark (once: False if it was there already). A crash between
        the files and the mark renders again: the same content
        (not the same bytes: factur-x stamps its time), a new version of each object."""
        files = object_keys(legal_entity, number)
        try:
            self.s3.put_object(Bucket=self.bucket, Key=files.xml_key, Body=xml, ContentType="application/xml",
                               Metadata={"order-id": order_id, "number": number})
            self.s3.put_object(Bucket=self.bucket, Key=files.pdf_key, Body=pdf, ContentType="application/pdf",
                               Metadata={"order-id": order_id, "number": number})
        except ClientError as exc:
            if is_retryable(exc):
                raise TransientError(f"storing {number}: {exc}") from exc
            raise
        try:
            self.db.put_item(TableName=self.table, ConditionExpression="attribute_not_exists(PK)",
                             Item=to_item({**rendered_key(order_id, number), "type": "rendered_document",
                                           "order_id": order_id, "number": number, "pdf_key": files.pdf_key,
                                           "xml_key": files.xml_key, "rendered_at": at}))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            if is_retryable(exc):
                raise TransientError(f"marking {number} rendered: {exc}") from exc
            raise
        return True
