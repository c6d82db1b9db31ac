"""Firehose delivery to S3 (localcloud.patches.firehose_delivery)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from localcloud.patches.firehose_delivery import evaluate_prefix, java_format
from tests.localcloud.support import REGION, ROLE, client

BUCKET = "finance-test"


def _stream(name: str, **destination: Any) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    client("firehose").create_delivery_stream(
        DeliveryStreamName=name, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{BUCKET}", **destination})


def _objects() -> dict[str, bytes]:
    s3 = client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    return {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys}


def test_records_land_under_the_evaluated_prefix_one_line_each(aws: None) -> None:
    # Given a stream partitioned by day that appends a newline to every record
    _stream("archive", Prefix="events/dt=!{timestamp:yyyy-MM-dd}/",
            ErrorOutputPrefix="errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/",
            ProcessingConfiguration={"Enabled": True, "Processors": [{"Type": "AppendDelimiterToRecord"}]})
    # When two records are put in one batch (moto alone: the key keeps the expression literally,
    # with its own YYYY/MM/DD/HH/ after it, and the records run together: {"n":1}{"n":2})
    client("firehose").put_record_batch(DeliveryStreamName="archive", Records=[
        {"Data": json.dumps({"n": 1}).encode()}, {"Data": json.dumps({"n": 2}).encode()}])
    # Then they are one object, named as Firehose names it, one JSON record a line
    ((key, body),) = _objects().items()
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert re.fullmatch(rf"events/dt={today}/archive-1-{today}-\d\d-\d\d-\d\d-[0-9a-f-]{{36}}", key), key
    assert [json.loads(line) for line in body.decode().splitlines()] == [{"n": 1}, {"n": 2}]
    assert body.endswith(b"\n")


def test_records_a_processor_cannot_handle_locally_go_to_the_error_prefix(aws: None) -> None:
    # Given a stream with a Lambda processor (not run by the local cloud)
    _stream("lambda-processed", Prefix="events/", ErrorOutputPrefix="errors/!{firehose:error-output-type}/",
            ProcessingConfiguration={"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": []}]})
    # When a record is put
    client("firehose").put_record(DeliveryStreamName="lambda-processed", Record={"Data": b'{"n": 1}'})
    # Then it is not delivered unprocessed: it waits under the error prefix, in AWS's error record shape
    ((key, body),) = _objects().items()
    assert key.startswith("errors/processing-failed/")
    error = json.loads(body)
    assert error["rawData"] == "eyJuIjogMX0=" and "Lambda" in error["errorMessage"]


def test_a_prefix_without_a_time_gets_the_default_hours_and_java_literals_are_kept() -> None:
    at = datetime(2026, 11, 23, 9, 5, 7, tzinfo=UTC)
    assert evaluate_prefix("", at) == "2026/11/23/09/"
    assert evaluate_prefix("raw/", at) == "raw/2026/11/23/09/"
    assert evaluate_prefix("dt=!{timestamp:yyyy'-'MM'-'dd}/h=!{timestamp:HH}/", at) == "dt=2026-11-23/h=09/"
    assert java_format("yyyy-MM-dd HH:mm:ss", at) == "2026-11-23 09:05:07"
    with pytest.raises(ValueError, match="not supported"):
        java_format("EEEE", at)
