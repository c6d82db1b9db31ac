"""``oms finance export``: the ledger of a period and its reconciliation per currency, from the
table's documents and the finance archive (functions/invoice/ledger.py decides; this reads and
prints). Called with the operator's AWS credentials like ``oms keys``; locally the stack
`make up` serves."""

from __future__ import annotations

import csv
import json
import sys
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from functions.invoice.ledger import TERMS
from oms.console import err
from oms.environment import Environment, connect
from oms.failures import OmsError

if TYPE_CHECKING:
    from functions.invoice.ledger import Ledger

app = typer.Typer(help="Finance: the export finance closes the books with.", no_args_is_help=True)

#: exit code of --strict when the books do not reconcile
NOT_RECONCILED = 3

EXPORT_HELP = "\n\n".join((
    "Write the ledger of a period (one row per invoice, credit note and payment) and its reconciliation per "
    "currency (API.md \"Finance\"): invoices − credit notes = captured − refunded + received on account + still "
    "open on account + on finance's review list.",
    "Sources: invoices and credit notes from the table (issued in the period, UTC days inclusive, at most 366); "
    "captured, refunded and received from the finance archive (PaymentCaptured, PaymentRefunded, PaymentReceived "
    "of the period's documents, up to now; an archived payment of the period with no document at all counts "
    "too); still open on account from the table (open amounts of the period's on-account invoices, adjusted for "
    "on-account credit notes across the period's edges); the review list from the table (FAILED invoices less "
    "FAILED credit notes). Documents of 0.00 (free shipments, exchange replacements) count 0.00 on both sides.",
    "The ledger goes to --output (default stdout) as csv (with a header) or jsonl. The reconciliation goes to "
    "stdout after it (after a blank line): a `finding …` line per mismatch (a document whose issue event is not "
    "archived, a capture or refund the archive lacks, an archived payment with no document, anything not "
    "settled yet), then per currency `reconciliation <CUR>`, a `<term>: <amount>` line per term and "
    "`difference: <amount>`; the last line is always a `difference:` line.",
    f"A difference is a finding, not an error: exit code 0, unless --strict (then {NOT_RECONCILED} on any "
    "difference or finding). docs/OPERATIONS.md, \"Closing the books\".",
))


class Format(StrEnum):
    csv = "csv"
    jsonl = "jsonl"




def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise typer.BadParameter(f"{text!r} is not a date like 2026-11-01", param_hint=option) from e


def legal_entity_of(env: Environment) -> str:
    """The legal entity the stack's functions issue documents for (their ``LEGAL_ENTITY``)."""
    cloudformation, lambdas = env.client("cloudformation"), env.client("lambda")
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=env.stack_name):
        for resource in page.get("StackResourceSummaries", []):
            if resource["ResourceType"] != "AWS::Lambda::Function":
                continue
            config = lambdas.get_function_configuration(FunctionName=resource["PhysicalResourceId"])
            entity = (config.get("Environment") or {}).get("Variables", {}).get("LEGAL_ENTITY")
            if entity:
                return str(entity)
    raise OmsError(f"no function of {env.stack_name} names its LEGAL_ENTITY: give --legal-entity")


def now_of(env: Environment) -> datetime:
    """When the export runs (UTC) — on the local stack its clock's now, which ``POST
    /_local/clock`` may have moved ahead: the documents and the archive's days follow that clock,
    and the archive is read up to the day after today (``Period.archive_days``)."""
    if env.name == "local":
        from oms.environment import local_now, local_port

        return local_now(local_port()).astimezone(UTC)
    return datetime.now(UTC)


def finance_bucket(env: Environment) -> str:
    bucket = env.outputs.get("FinanceBucketName")
    if not bucket and env.name == "local":
        from oms.environment import local_info, local_port

        bucket = local_info(local_port()).get("finance_bucket")
    if not bucket:
        raise OmsError(f"{env.stack_name} has no finance archive (no FinanceBucketName output)")
    return str(bucket)


class _Progress:
    """A progress bar on stderr, shown only once an export is long (a second page of documents,
    or many archive files)."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._bar: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def _start(self) -> Progress:
        if self._bar is None:
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 console=err, transient=True)
            self._stack.enter_context(self._bar)
        return self._bar

    def documents(self, pages: int) -> None:
        if pages < 2 and self._bar is None:
            return
        bar = self._start()
        task = self._tasks.setdefault("documents", bar.add_task("documents (pages)", total=None))
        bar.update(task, completed=pages)

    def archive(self, done: int, total: int) -> None:
        if total < 20 and self._bar is None:
            return
        bar = self._start()
        task = self._tasks.setdefault("archive", bar.add_task("archive files", total=total))
        bar.update(task, completed=done, total=total)


def read_ledger(env: Environment, first: date, last: date, *, legal_entity: str | None, today: date,
                cutoff: str | None = None, progress: _Progress | None = None) -> Ledger:
    """The ledger of ``first``..``last`` from the table and the archive. ``cutoff``: when the
    export started (ISO, UTC): documents, later credit notes and archived events after it
    happened while the export read, and are left out (a snapshot of the books at its start)."""
    from functions.core.adapters.order_reader import OrderTableReader
    from functions.invoice.adapters.document_bucket import DocumentBucket
    from functions.invoice.adapters.document_index import DocumentIndexTable
    from functions.invoice.adapters.finance_archive import FinanceArchive
    from functions.invoice.document_queries import DocumentQueries
    from functions.invoice.ledger import Period, build, documents_of

    period = Period.of(first, last)
    table = env.outputs.get("TableName")
    if not table:
        raise OmsError(f"{env.stack_name} has no TableName output")
    archive = FinanceArchive(finance_bucket(env))
    index = DocumentIndexTable(table)
    queries = DocumentQueries(orders=OrderTableReader(table), index=index,
                              links=DocumentBucket(table, env.outputs.get("DocumentBucketName", "")),
                              legal_entity=legal_entity or legal_entity_of(env))
    on_page = progress.documents if progress else None
    documents = list(documents_of(queries.list, first, last, on_page=on_page))
    # up to the day after today, as the archive: a clock a little behind the table's near midnight
    later = list(documents_of(queries.list, last + timedelta(days=1), today + timedelta(days=1),
                              kind="credit_note"))
    days = period.archive_days(today)
    events = archive.events(days, progress.archive if progress else None)
    if cutoff is not None:
        documents = [d for d in documents if str(d.get("issued_at") or "") <= cutoff]
        later = [d for d in later if str(d.get("issued_at") or "") <= cutoff]
        events = [e for e in events if e.occurred_at <= cutoff]
    ledger = build(period, documents, events, later_credit_notes=later,
                   known=lambda number: index.order_of(number) is not None, archive_errors=archive.error_files(days))
    if archive.unreadable:
        ledger.notes.append(f"warning: {len(archive.unreadable)} archive line(s) are not finance events, e.g. "
                            f"{archive.unreadable[0]}")
    return ledger


def write_rows(ledger: Ledger, fmt: Format, stream: TextIO) -> None:
    from functions.invoice.ledger import COLUMNS

    if fmt is Format.csv:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in ledger.rows:
            writer.writerow({k: "" if v is None else v for k, v in row.view().items()})
    else:
        for row in ledger.rows:
            stream.write(json.dumps(row.view(), separators=(",", ":")) + "\n")


def reconciliation_lines(ledger: Ledger) -> list[str]:
    """What is printed after the ledger: the findings, then a block per currency; the last line
    is always a ``difference:`` line."""
    lines = [f"finding {f.line()}" for f in ledger.findings]
    for currency in sorted(ledger.reconciliations):
        lines.extend(ledger.reconciliations[currency].lines())
    if not ledger.reconciliations:
        lines.extend(["reconciliation: no documents or payments in the period", "difference: 0.00"])
    return lines


@app.command("export", help=EXPORT_HELP)
def export(ctx: typer.Context,
           from_: Annotated[str, typer.Option("--from", help="the period's first day (UTC, inclusive), 2026-11-01")],
           to: Annotated[str, typer.Option("--to", help="the period's last day (UTC, inclusive), 2026-11-30")],
           format_: Annotated[Format, typer.Option("--format", help="the ledger's format")] = Format.csv,
           output: Annotated[Path | None, typer.Option(help="write the ledger to this file (default: stdout)")]
           = None,
           strict: Annotated[bool, typer.Option(help=f"exit {NOT_RECONCILED} when any difference or finding")]
           = False,
           legal_entity: Annotated[str | None, typer.Option(help="whose documents (default: the stack's)")]
           = None) -> None:
    from functions.core.events import stamp
    from functions.invoice.ledger import Period, PeriodError

    first, last = _day(from_, "--from"), _day(to, "--to")
    try:
        Period.of(first, last)
    except PeriodError as e:
        raise typer.BadParameter(str(e).removeprefix(f"{e.field}: "), param_hint=e.field) from e
    env = connect(ctx.obj.env)
    now = now_of(env)
    with ExitStack() as stack:
        ledger = read_ledger(env, first, last, legal_entity=legal_entity, today=now.date(), cutoff=stamp(now),
                             progress=_Progress(stack))
    if output is not None:
        with output.open("w", newline="", encoding="utf-8") as f:
            write_rows(ledger, format_, f)
        err.print(f"{len(ledger.rows)} ledger rows written to {output}")
    else:
        write_rows(ledger, format_, sys.stdout)
        sys.stdout.write("\n")
    for note in ledger.notes:
        err.print(note, soft_wrap=True)
    sys.stdout.write("\n".join(reconciliation_lines(ledger)) + "\n")
    sys.stdout.flush()
    if strict and not ledger.reconciled:
        raise typer.Exit(NOT_RECONCILED)



def parse_reconciliation(text: str) -> dict[str, Any]:
    """What ``export`` printed after the ledger, read back: ``{"findings": [...], "currencies":
    {"EUR": {"invoices": "…", …, "difference": "…"}}, "difference": <the last line's amount>}``."""
    findings: list[str] = []
    currencies: dict[str, dict[str, str]] = {}
    block: dict[str, str] | None = None
    last = None
    labels = {label: name for name, label in TERMS} | {"difference": "difference"}
    for line in text.splitlines():
        if line.startswith("finding "):
            findings.append(line.removeprefix("finding "))
        elif line.startswith("reconciliation ") and not line.startswith("reconciliation:"):
            block = currencies.setdefault(line.split()[1], {})
        elif ": " in line:
            label, _, value = line.partition(": ")
            if label == "difference":
                last = value.strip()
            if block is not None and label in labels:
                block[labels[label]] = value.strip()
    return {"findings": findings, "currencies": currencies, "difference": last}
