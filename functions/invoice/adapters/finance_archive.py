"""The finance archive: the finance events Firehose delivered to the finance bucket (stack output
``FinanceBucketName``; locally ``finance_bucket`` in ``GET /_local/info``).

Layout (the archive's contract): ``events/dt=YYYY-MM-DD/…`` — the UTC day the record arrived at
Firehose — each object JSON lines, one EventBridge envelope per line as delivered to targets
(``detail-type``, ``detail.metadata.event_id``, ``detail.data``…); a gzip-compressed object
(``.gz``) is read as well. What Firehose could not deliver goes under ``errors/``: counted, never
read as events. Listing is paginated (ListObjectsV2, 1,000 keys a page)."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import Any

from functions.core.adapters.aws import client
from functions.invoice.ledger import ArchivedEvent

EVENTS_PREFIX = "events/"
_KEY_DAY = re.compile(r"(?:dt=|/)(\d{4})[-/](\d{2})[-/](\d{2})(?:/|$)")
ERRORS_PREFIX = "errors/"


def day_prefix(day: date) -> str:
    return f"{EVENTS_PREFIX}dt={day.isoformat()}/"


class FinanceArchive:
    def __init__(self, bucket: str, s3_client: Any = None, *, page_size: int = 1000) -> None:
        self.bucket = bucket
        self._s3 = s3_client
        self.page_size = page_size
        #: lines that were not a finance event envelope (reported, never guessed at)
        self.unreadable: list[str] = []

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = client("s3")
        return self._s3

    def _keys(self, prefix: str) -> Iterator[dict[str, Any]]:
        for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": self.page_size}):
            yield from page.get("Contents", [])

    def objects(self, days: Iterable[date]) -> list[str]:
        """The keys of the events' objects filed on ``days``, in order."""
        return [o["Key"] for day in days for o in self._keys(day_prefix(day))]

    def read(self, key: str) -> list[ArchivedEvent]:
        """The events of one object (a line that is no envelope is kept in ``unreadable``)."""
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        if key.endswith(".gz") or body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        found = []
        for n, line in enumerate(body.decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                envelope = json.loads(line)
                if not isinstance(envelope, dict):
                    raise ValueError("not an object")
                found.append(ArchivedEvent.of(envelope))
            except ValueError as e:
                self.unreadable.append(f"{key}:{n}: {e}")
        return found

    def events(self, days: Iterable[date], progress: Callable[[int, int], None] | None = None
               ) -> list[ArchivedEvent]:
        """Every event filed on ``days`` (redeliveries included: the ledger deduplicates);
        ``progress(done, total)`` after each object."""
        keys = self.objects(days)
        found: list[ArchivedEvent] = []
        for n, key in enumerate(keys, start=1):
            found.extend(self.read(key))
            if progress:
                progress(n, len(keys))
        return found

    def error_files(self, days: Iterable[date]) -> int:
        """How many objects Firehose wrote under ``errors/`` on ``days``: by the day in their key
        (``dt=YYYY-MM-DD`` or Firehose's default ``YYYY/MM/DD``), else by their write date."""
        wanted = set(days)
        count = 0
        for o in self._keys(ERRORS_PREFIX):
            match = _KEY_DAY.search(o["Key"])
            day = date(*map(int, match.group(1, 2, 3))) if match else o["LastModified"].date()
            count += day in wanted
        return count
