"""Firehose delivery to S3 as AWS names and shapes the objects.

moto 5.2.5 ``FirehoseBackend.put_s3_records`` takes a destination's ``Prefix`` literally and
then appends its own ``YYYY/MM/DD/HH/`` (``events/dt=!{timestamp:yyyy-MM-dd}/`` became the key
``events/dt=!{timestamp:yyyy-MM-dd}/2026/11/23/10/…``), and ignores ``ProcessingConfiguration``:
records are concatenated with nothing between them (``{"a":1}{"a":2}``). Here, as on AWS
(https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html):

- ``!{timestamp:<Java DateTimeFormatter pattern>}`` is the arrival time (UTC) of the oldest record
  in the object — here the PutRecord(Batch) itself; ``!{firehose:random-string}`` 11 random
  characters; a prefix without a timestamp expression gets ``yyyy/MM/dd/HH/`` appended (the
  default prefix when there is none);
- the object's name is ``<evaluated prefix><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>``;
- ``AppendDelimiterToRecord`` appends its ``Delimiter`` (default a newline) to every record;
- records a processor the local cloud does not run (``Lambda``, …) would change are written under
  the ``ErrorOutputPrefix`` (``!{firehose:error-output-type}`` = ``processing-failed``) in AWS's
  error-record shape, so they are visible, not silently passed through unprocessed.

Buffering hints are not honoured: each PutRecord(Batch) is one object at once, so what the local
stack archives can be read within the call that put it (on AWS: within the buffer interval).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import string
from datetime import datetime
from typing import Any

from moto.core.utils import utcnow
from moto.firehose.models import FirehoseBackend
from moto.moto_api._internal import mock_random
from moto.s3.models import s3_backends

_ORIGINAL = FirehoseBackend.put_s3_records
_EXPRESSION = re.compile(r"!\{(timestamp|firehose):([^}]*)\}")
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


def object_key(prefix: str, stream: str, version: str, at: datetime) -> str:
    return f"{prefix}{stream}-{version}-{at.strftime('%Y-%m-%d-%H-%M-%S')}-{mock_random.uuid4()}"


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
    at = utcnow()
    bucket = s3_destination["BucketARN"].split(":")[-1]
    delivered, failed = [], []
    for record in records:
        data, error = _process(s3_destination, record["Data"])
        if data is not None:
            delivered.append(data)
        else:
            failed.append(_error_record(record["Data"], error or "", at))
    store = s3_backends[self.account_id][self.partition]
    if delivered:
        prefix = evaluate_prefix(s3_destination.get("Prefix", ""), at)
        store.put_object(bucket, object_key(prefix, delivery_stream_name, version_id, at), b"".join(delivered))
    if failed:
        error_prefix = s3_destination.get("ErrorOutputPrefix") or "processing-failed/"
        prefix = evaluate_prefix(error_prefix, at, error_output_type="processing-failed")
        store.put_object(bucket, object_key(prefix, delivery_stream_name, version_id, at), b"".join(failed))
    return [{"RecordId": str(mock_random.uuid4())} for _ in records]


def install() -> None:
    FirehoseBackend.put_s3_records = _put_s3_records  # type: ignore[method-assign]
