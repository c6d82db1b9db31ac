"""Firehose delivery to S3 as AWS names and shapes the objects.

moto 5.2.5 ``FirehoseBackend.put_s3_records`` takes a destination's ``Prefix`` literally and
then appends its own ``YYYY/MM/DD/HH/`` (``events/dt=!{timestamp:yyyy-MM-dd}/`` became the key
``events/dt=!{timestamp:yyyy-MM-dd}/2026/11/23/10/…``), and ignores ``ProcessingConfiguration``:
records are concatenated with nothing between them (``{"a":1}{"a":2}``). Here, as on AWS
(https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html):

- ``!{timestamp:<Java DateTimeFormatter pattern>}`` is the arrival time (UTC) of the oldest record
  in the object — here the PutRecord(Batch) itself, at the use cases' clock
  (``functions/core/clock.py``, moved by ``/_local/clock``): on AWS a record arrives seconds after
  the event's ``occurred_at``, so locally the two agree as well, and the events of an advanced day
  are filed under that day (the object's name carries the same time); ``!{firehose:random-string}`` 11 random
  characters; a prefix without a timestamp expression gets ``yyyy/MM/dd/HH/`` appended (the
  default prefix when there is none);
- the object's name is ``<evaluated prefix><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>``;
- ``AppendDelimiterToRecord`` appends its ``Delimiter`` (default a newline) to every record;
- ``CompressionFormat`` ``GZIP`` gzips the object and names it ``….gz``; ``UNCOMPRESSED`` (the
  default) writes it as is;
- records a processor the local cloud does not run (``Lambda``, …) would change are written under
  the ``ErrorOutputPrefix`` (``!{firehose:error-output-type}`` = ``processing-failed``) in AWS's
  error-record shape, so they are visible, not silently passed through unprocessed.

CreateDeliveryStream and UpdateDestination refuse (``InvalidArgumentException``) an S3 destination
AWS refuses, which moto 5.2.5 accepts and then delivers anyway: an expression in ``Prefix`` with
no ``ErrorOutputPrefix`` (AWS: "ErrorOutputPrefix cannot be null or empty when Prefix contains
expressions"), an ``ErrorOutputPrefix`` with expressions but no ``!{firehose:error-output-type}``,
``!{firehose:error-output-type}`` in ``Prefix``, an expression that is not one (an unknown
namespace or ``firehose:`` value, an unclosed ``!{``, a timestamp pattern it cannot format),
``partitionKeyFrom…`` (dynamic partitioning is not run locally), and a ``CompressionFormat``
other than ``UNCOMPRESSED`` or ``GZIP`` (``ZIP``, ``Snappy``, ``HADOOP_SNAPPY`` are not written
locally). So a template AWS would refuse fails the local deploy too.

Buffering hints are not honoured: each PutRecord(Batch) is one object at once, so what the local
stack archives can be read within the call that put it (on AWS: within the buffer interval).
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import re
import secrets
import string
from datetime import datetime
from typing import Any

from moto.firehose.exceptions import InvalidArgumentException
from moto.firehose.models import FirehoseBackend
from moto.moto_api._internal import mock_random
from moto.s3.models import s3_backends

from functions.core import clock

_ORIGINAL = FirehoseBackend.put_s3_records
_ORIGINAL_CREATE = FirehoseBackend.create_delivery_stream
_ORIGINAL_UPDATE = FirehoseBackend.update_destination
_EXPRESSION = re.compile(r"!\{(timestamp|firehose):([^}]*)\}")
#: Any ``!{…}`` (to find what is not a valid expression), and an opening with no close.
_ANY_EXPRESSION = re.compile(r"!\{([^}]*)\}")
_NAMESPACES = ("timestamp", "firehose", "partitionKeyFromQuery", "partitionKeyFromLambda")
_FIREHOSE_VALUES = ("error-output-type", "random-string")
#: CompressionFormat values AWS takes, and the suffix it gives the object of those written here.
_COMPRESSIONS = ("UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY")
_WRITTEN = {"UNCOMPRESSED": "", "GZIP": ".gz"}
_CONSTRAINT = "The supplied prefix(es) do not satisfy the following constraint: "
#: Java DateTimeFormatter letters Firehose prefixes use, as strftime directives.
_JAVA = {"yyyy": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
_JAVA_TOKEN = re.compile(r"'[^']*'|yyyy|yy|MM|dd|HH|mm|ss|[A-Za-z]")
DEFAULT_TIME_PREFIX = "!{timestamp:yyyy/MM/dd/HH}/"


def java_format(pattern: str, at: datetime) -> str:
    """``at`` formatted with a Java DateTimeFormatter pattern (the subset prefixes use; quoted
    literals like ``yyyy'-'MM`` too). An unsupported letter is an error, not a wrong key."""
    out: list[str] = []
    position = 0
    for match in _JAVA_TOKEN.finditer(pattern):
        out.append(pattern[position:match.start()])
        token = match.group(0)
        if token.startswith("'"):
            out.append(token[1:-1] or "'")
        elif token in _JAVA:
            out.append(at.strftime(_JAVA[token]))
        else:
            raise ValueError(f"Firehose prefix pattern {pattern!r}: {token!r} is not supported locally")
        position = match.end()
    out.append(pattern[position:])
    return "".join(out)


def evaluate_prefix(prefix: str, at: datetime, *, error_output_type: str | None = None) -> str:
    """A destination prefix with its expressions evaluated, as Firehose does at delivery."""
    if not prefix:
        prefix = DEFAULT_TIME_PREFIX
    elif "!{timestamp:" not in prefix:
        prefix = prefix + DEFAULT_TIME_PREFIX

    def value(match: re.Match[str]) -> str:
        namespace, key = match.group(1), match.group(2)
        if namespace == "timestamp":
            return java_format(key, at)
        if key == "random-string":
            return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(11))
        if key == "error-output-type" and error_output_type:
            return error_output_type
        raise ValueError(f"Firehose prefix {prefix!r}: !{{firehose:{key}}} cannot be evaluated here")

    return _EXPRESSION.sub(value, prefix)


def object_key(prefix: str, stream: str, version: str, at: datetime, suffix: str = "") -> str:
    return f"{prefix}{stream}-{version}-{at.strftime('%Y-%m-%d-%H-%M-%S')}-{mock_random.uuid4()}{suffix}"


def _expressions(field: str, prefix: str) -> list[tuple[str, str]]:
    """The (namespace, value) of each expression of ``prefix``; a malformed one is refused."""
    if prefix.count("!{") != len(_ANY_EXPRESSION.findall(prefix)):
        raise InvalidArgumentException(f"{_CONSTRAINT}{field} {prefix!r} has an unclosed '!{{'")
    found = []
    for body in _ANY_EXPRESSION.findall(prefix):
        namespace, colon, value = body.partition(":")
        if not colon or namespace not in _NAMESPACES:
            raise InvalidArgumentException(
                f"{_CONSTRAINT}{field} {prefix!r}: '!{{{body}}}' is not an expression "
                f"(namespaces: {', '.join(_NAMESPACES)})")
        if namespace == "firehose" and value not in _FIREHOSE_VALUES:
            raise InvalidArgumentException(
                f"{_CONSTRAINT}{field} {prefix!r}: !{{firehose:{value}}} is not one of "
                f"{', '.join(_FIREHOSE_VALUES)}")
        if namespace.startswith("partitionKeyFrom"):
            raise InvalidArgumentException(
                f"{field} {prefix!r}: !{{{namespace}:…}} needs dynamic partitioning, "
                "which the local cloud does not run")
        if namespace == "timestamp":
            try:
                java_format(value, datetime(2026, 1, 1))
            except ValueError as e:
                raise InvalidArgumentException(f"{_CONSTRAINT}{field} {prefix!r}: {e}") from e
        found.append((namespace, value))
    return found


def validate_destination(destination: dict[str, Any]) -> None:
    """Refuse an S3 destination as CreateDeliveryStream / UpdateDestination do on AWS
    (https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html)."""
    prefix, error_prefix = destination.get("Prefix") or "", destination.get("ErrorOutputPrefix") or ""
    data_expressions = _expressions("Prefix", prefix)
    error_expressions = _expressions("ErrorOutputPrefix", error_prefix)
    if ("firehose", "error-output-type") in data_expressions:
        raise InvalidArgumentException(
            f"{_CONSTRAINT}!{{firehose:error-output-type}} can only be used in ErrorOutputPrefix")
    if data_expressions and not error_prefix:
        raise InvalidArgumentException(
            f"{_CONSTRAINT}ErrorOutputPrefix cannot be null or empty when Prefix contains expressions")
    if error_expressions and ("firehose", "error-output-type") not in error_expressions:
        raise InvalidArgumentException(
            f"{_CONSTRAINT}ErrorOutputPrefix must contain !{{firehose:error-output-type}} when it contains "
            "expressions")
    compression = destination.get("CompressionFormat") or "UNCOMPRESSED"
    if compression not in _COMPRESSIONS:
        raise InvalidArgumentException(
            f"CompressionFormat {compression!r} is not one of {', '.join(_COMPRESSIONS)}")
    if compression not in _WRITTEN:
        raise InvalidArgumentException(
            f"CompressionFormat {compression}: the local cloud writes only {' or '.join(_WRITTEN)} objects")


def _s3_destinations(config: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The S3 destination of an (Extended)S3 configuration and its S3 backup, if any."""
    if not config:
        return []
    backup = config.get("S3BackupConfiguration") or config.get("S3BackupUpdate")
    return [config, *([backup] if backup else [])]


def _delimiter(processor: dict[str, Any]) -> bytes:
    params = {p.get("ParameterName"): p.get("ParameterValue") for p in processor.get("Parameters") or []}
    raw = params.get("Delimiter", "\\n")
    return str(raw).encode().decode("unicode_escape").encode()  # "\\n" as the console writes it: a newline


def _process(destination: dict[str, Any], data: bytes) -> tuple[bytes | None, str | None]:
    """(the record as delivered, None) or (None, why processing failed)."""
    config = destination.get("ProcessingConfiguration") or {}
    if not config.get("Enabled"):
        return data, None
    for processor in config.get("Processors") or []:
        kind = processor.get("Type")
        if kind == "AppendDelimiterToRecord":
            data += _delimiter(processor)
        else:
            return None, f"the local cloud does not run {kind} processors"
    return data, None


def _error_record(data: bytes, message: str, at: datetime) -> bytes:
    return json.dumps({"attemptsMade": 1, "arrivalTimestamp": int(at.timestamp() * 1000),
                       "errorCode": "Lambda.ProcessingFailed", "errorMessage": message,
                       "rawData": base64.b64encode(data).decode()}).encode() + b"\n"


def _put_s3_records(self: FirehoseBackend, delivery_stream_name: str, version_id: str,
                    s3_destination: dict[str, Any], records: list[dict[str, bytes]]) -> list[dict[str, str]]:
    at = clock.now()  # the arrival time, as the use cases that published the records see it
    bucket = s3_destination["BucketARN"].split(":")[-1]
    delivered, failed = [], []
    for record in records:
        data, error = _process(s3_destination, record["Data"])
        if data is not None:
            delivered.append(data)
        else:
            failed.append(_error_record(record["Data"], error or "", at))
    store = s3_backends[self.account_id][self.partition]
    compression = s3_destination.get("CompressionFormat") or "UNCOMPRESSED"
    suffix = _WRITTEN[compression]

    def body(parts: list[bytes]) -> bytes:
        joined = b"".join(parts)
        return gzip.compress(joined) if compression == "GZIP" else joined

    if delivered:
        prefix = evaluate_prefix(s3_destination.get("Prefix", ""), at)
        store.put_object(bucket, object_key(prefix, delivery_stream_name, version_id, at, suffix), body(delivered))
    if failed:
        error_prefix = s3_destination.get("ErrorOutputPrefix") or "processing-failed/"
        prefix = evaluate_prefix(error_prefix, at, error_output_type="processing-failed")
        store.put_object(bucket, object_key(prefix, delivery_stream_name, version_id, at, suffix), body(failed))
    return [{"RecordId": str(mock_random.uuid4())} for _ in records]


def _create_delivery_stream(self: FirehoseBackend, region: str, delivery_stream_name: str,
                            delivery_stream_type: str, *args: Any, **kwargs: Any) -> str:
    names = ("kinesis_stream_source_configuration", "delivery_stream_encryption_configuration_input",
             "s3_destination_configuration", "extended_s3_destination_configuration")
    given = dict(zip(names, args, strict=False)) | kwargs
    for config in ("s3_destination_configuration", "extended_s3_destination_configuration"):
        for destination in _s3_destinations(given.get(config)):
            validate_destination(destination)
    return str(_ORIGINAL_CREATE(self, region, delivery_stream_name, delivery_stream_type, *args, **kwargs))


def _update_destination(self: FirehoseBackend, delivery_stream_name: str, *args: Any, **kwargs: Any) -> None:
    """The update applied, then the destination it made checked; refused, the stream is as it was."""
    stream = self.delivery_streams.get(delivery_stream_name)
    if stream is None:  # moto answers it (ResourceNotFoundException)
        _ORIGINAL_UPDATE(self, delivery_stream_name, *args, **kwargs)
        return
    before, version = copy.deepcopy(stream.destinations), stream.version_id
    _ORIGINAL_UPDATE(self, delivery_stream_name, *args, **kwargs)
    try:
        for destination in stream.destinations:
            for kind in ("S3", "ExtendedS3"):
                for config in _s3_destinations(destination.get(kind)):
                    validate_destination(config)
    except InvalidArgumentException:
        stream.destinations, stream.version_id = before, version
        raise


def install() -> None:
    FirehoseBackend.put_s3_records = _put_s3_records  # type: ignore[method-assign]
    FirehoseBackend.create_delivery_stream = _create_delivery_stream  # type: ignore[method-assign]
    FirehoseBackend.update_destination = _update_destination  # type: ignore[method-assign]
