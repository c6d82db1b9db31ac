"""``oms``: the operator command line — API keys, fulfilment nodes, on-account customers, dead-letter redrive and
finance's export, for
the local stack (`make up`, the default) or a deployed environment (``--env dev|staging|prod``, with the
caller's AWS credentials). Run it as ``.venv/bin/oms``, ``make oms ARGS="…"`` or ``python -m oms``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from oms import customers, finance, keys, local, nodes, orders
from oms.console import err, out
from oms.environment import EnvName, connect
from oms.failures import OmsError, as_oms_errors
from oms.redrive import DeadLetterQueue, dead_letter_queues, redrive


class OmsApp(typer.Typer):
    """Expected failures end in one red line and exit 1; anything else still shows its traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            with as_oms_errors():
                return super().__call__(*args, **kwargs)
        except OmsError as e:
            err.print(f"[bold red]error:[/] [red]{e}[/]", soft_wrap=True)
            sys.exit(1)


HELP = ("The operator command line: API keys, fulfilment nodes, on-account customers, resuming a stuck order, "
        "dead-letter redrive and finance's export, "
        "for the local stack "
        "(`make up`, the default) or a deployed environment (--env dev|staging|prod, with your AWS credentials).")
app = OmsApp(name="oms", help=HELP, no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False,
             context_settings={"help_option_names": ["-h", "--help"]})
app.add_typer(keys.app, name="keys")
app.add_typer(nodes.app, name="nodes")
app.add_typer(orders.app, name="orders")
app.add_typer(customers.app, name="customers")
app.add_typer(local.app, name="local")
app.add_typer(finance.app, name="finance")


@dataclass(frozen=True)
class Options:
    env: str


@app.callback()
def main(ctx: typer.Context,
         env: Annotated[EnvName, typer.Option(help="local: the stack `make up` serves on OMS_PORT (default 8080); "
                                                   "dev|staging|prod: the deployed stack Oms-<env>")] = EnvName.local,
         ) -> None:
    ctx.obj = Options(env=env.value)


@app.command("redrive")
def redrive_command(ctx: typer.Context,
                    queue: Annotated[str | None, typer.Option(help="only this DLQ (default: every one)")]
                    = None) -> None:
    """List every dead-letter queue with its depth, then replay it: queue-fed ones into their source,
    a stream consumer's pointers by reading their records back from the stream into the consumer."""
    from oms.streams import stream_consumers

    env = connect(ctx.obj.env)
    sqs = env.client("sqs")
    queues = dead_letter_queues(sqs, env.queue_prefix)
    chosen = [q for q in queues if queue is None or q.name == queue]
    if queue is not None and not chosen:
        names = ", ".join(q.name for q in queues) or "none"
        raise OmsError(f"no dead-letter queue {queue} in {env.stack_name} (it has: {names})")
    consumers = stream_consumers(env.client("lambda"))
    for q in queues:
        consumer = consumers.get(q.arn)
        note = f"  [dim](stream failure records of {consumer.function_name})[/]" if consumer else ""
        out.print(f"{q.name}: {q.depth} messages{note}")
    for q in chosen:
        if q.source_url is not None:
            out.print(f"{q.name}: redrove {redrive(sqs, q)} messages to {q.source_name}")
        elif q.arn in consumers:
            _redrive_stream(env, q, consumers[q.arn])
        elif queue is not None:
            raise OmsError(f"{q.name} is fed by neither a queue nor a stream consumer: nothing to replay it into")


def _redrive_stream(env: Any, q: DeadLetterQueue, consumer: Any) -> None:
    from oms.streams import invoke_client, redrive_stream_pointers

    result = redrive_stream_pointers(env.client("sqs"), env.client("dynamodbstreams"), invoke_client(), q.url,
                                     consumer)
    out.print(f"{q.name}: replayed {result.replayed_batches} stream batches ({result.replayed_records} records) "
              f"to {consumer.function_name}; {len(result.kept)} kept")
    for kept in result.kept:
        what = kept.pointer.describe() if kept.pointer else "a message"
        out.print(f"  kept: {what}: {kept.reason}", soft_wrap=True)
    expired = sum(k.for_reconciler for k in result.kept)
    if expired:
        out.print(f"  {expired} of them can no longer be read from the stream: they stay in {q.name} for the "
                  "reconciler, which repairs the orders they pointed at (docs/OPERATIONS.md)", soft_wrap=True)
