"""Firehose delivery to S3 (localcloud.patches.firehose_delivery)."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.core import clock
from localcloud.patches.firehose_delivery import evaluate_prefix, java_format
from tests.localcloud.support import REGION, ROLE, client

BUCKET = "finance-test"


ARCHIVE = {"Prefix": "events/dt=!{timestamp:yyyy-MM-dd}/",
           "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/",
           "ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "AppendDelimiterToRecord"}]}}


@pytest.fixture
def moved_clock() -> Iterator[None]:
    try:
        yield
    finally:
        clock.reset()


def _stream(name: str, **destination: Any) -> None:
    s3 = client("s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
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


def test_the_arrival_day_is_the_use_cases_clock_as_the_events_own_time(aws: None, moved_clock: None) -> None:
    # Given the archive's stream fed by a rule on a bus, and the local clock 45 days ahead
    _stream("archive", **ARCHIVE)
    arn = client("firehose").describe_delivery_stream(DeliveryStreamName="archive")[
        "DeliveryStreamDescription"]["DeliveryStreamARN"]
    events = client("events")
    events.create_event_bus(Name="oms-test")
    events.put_rule(Name="archive", EventBusName="oms-test", EventPattern=json.dumps({"source": ["oms.invoice"]}))
    events.put_targets(Rule="archive", EventBusName="oms-test", Targets=[{"Id": "a", "Arn": arn, "RoleArn": ROLE}])
    clock.advance(timedelta(days=45))
    ahead = clock.now()
    # When a use case publishes an event that occurred now (moto alone: the real day, in key and envelope)
    events.put_events(Entries=[{"EventBusName": "oms-test", "Source": "oms.invoice", "DetailType": "InvoiceIssued",
                                "Detail": json.dumps({"metadata": {"occurred_at": ahead.isoformat()}})}])
    # Then it is filed under the advanced day, its object named at that time, and its envelope's
    # time is that day too: arrival, envelope and occurred_at agree as they do on AWS
    ((key, body),) = _objects().items()
    day = ahead.strftime("%Y-%m-%d")
    assert key.startswith(f"events/dt={day}/archive-1-{day}-"), key
    envelope = json.loads(body)
    assert abs(datetime.fromisoformat(envelope["time"]) - ahead) < timedelta(seconds=5), envelope["time"]


def test_gzip_is_written_compressed_and_named_gz(aws: None) -> None:
    # Given a stream that compresses with GZIP
    _stream("zipped", **ARCHIVE, CompressionFormat="GZIP")
    # When a record is put
    client("firehose").put_record(DeliveryStreamName="zipped", Record={"Data": b'{"n": 1}'})
    # Then the object is gzip, named .gz as Firehose names it, the record a line inside
    ((key, body),) = _objects().items()
    assert key.endswith(".gz") and gzip.decompress(body) == b'{"n": 1}\n'


REFUSED = {
    "an expression in Prefix and no ErrorOutputPrefix": (
        {"Prefix": "events/dt=!{timestamp:yyyy-MM-dd}/"},
        "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions"),
    "an ErrorOutputPrefix with expressions but no error-output-type": (
        {"Prefix": "events/dt=!{timestamp:yyyy-MM-dd}/", "ErrorOutputPrefix": "errors/dt=!{timestamp:yyyy-MM-dd}/"},
        r"ErrorOutputPrefix must contain !\{firehose:error-output-type\}"),
    "error-output-type in Prefix": (
        {"Prefix": "events/!{firehose:error-output-type}/", "ErrorOutputPrefix": "errors/"},
        "can only be used in ErrorOutputPrefix"),
    "an unknown namespace": (
        {"Prefix": "events/!{date:yyyy}/", "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/"},
        "is not an expression"),
    "an unknown firehose value": (
        {"Prefix": "events/!{firehose:uuid}/", "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/"},
        "is not one of error-output-type, random-string"),
    "an unclosed expression": (
        {"Prefix": "events/!{timestamp:yyyy/", "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/"},
        "unclosed"),
    "a timestamp pattern it cannot format": (
        {"Prefix": "events/!{timestamp:EEEE}/", "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/"},
        "not supported"),
    "dynamic partitioning keys": (
        {"Prefix": "events/!{partitionKeyFromQuery:kind}/",
         "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/"},
        "dynamic partitioning"),
    "a compression not written locally": ({**ARCHIVE, "CompressionFormat": "Snappy"},
                                          "writes only UNCOMPRESSED or GZIP"),
    "a compression that is none": ({**ARCHIVE, "CompressionFormat": "BZIP2"}, "is not one of"),
}


@pytest.mark.parametrize(("destination", "message"), list(REFUSED.values()), ids=list(REFUSED))
def test_a_destination_aws_refuses_is_refused_and_not_created(aws: None, destination: dict[str, Any],
                                                              message: str) -> None:
    # Given a destination CreateDeliveryStream refuses on AWS (moto alone creates it, and delivers)
    # When it is created
    with pytest.raises(ClientError, match=message) as refused:
        _stream("bad", **destination)
    # Then it is refused as AWS refuses it, and there is no stream
    assert refused.value.response["Error"]["Code"] == "InvalidArgumentException"
    assert client("firehose").list_delivery_streams()["DeliveryStreamNames"] == []


def test_an_update_aws_refuses_leaves_the_stream_as_it_was(aws: None) -> None:
    # Given the archive's stream
    _stream("archive", **ARCHIVE)
    firehose = client("firehose")
    described = firehose.describe_delivery_stream(DeliveryStreamName="archive")["DeliveryStreamDescription"]
    # When its error prefix is taken away while its prefix keeps an expression
    with pytest.raises(ClientError, match="ErrorOutputPrefix cannot be null or empty"):
        firehose.update_destination(DeliveryStreamName="archive", CurrentDeliveryStreamVersionId=described["VersionId"],
                                    DestinationId=described["Destinations"][0]["DestinationId"],
                                    ExtendedS3DestinationUpdate={"ErrorOutputPrefix": ""})
    # Then the stream keeps its version and its error prefix
    after = firehose.describe_delivery_stream(DeliveryStreamName="archive")["DeliveryStreamDescription"]
    assert after["VersionId"] == described["VersionId"]
    assert after["Destinations"][0]["ExtendedS3DestinationDescription"]["ErrorOutputPrefix"] == ARCHIVE[
        "ErrorOutputPrefix"]
    # and an update AWS takes is taken
    firehose.update_destination(DeliveryStreamName="archive", CurrentDeliveryStreamVersionId=described["VersionId"],
                                DestinationId=described["Destinations"][0]["DestinationId"],
                                ExtendedS3DestinationUpdate={"BufferingHints": {"IntervalInSeconds": 60}})
    assert firehose.describe_delivery_stream(DeliveryStreamName="archive")["DeliveryStreamDescription"][
        "VersionId"] != described["VersionId"]
