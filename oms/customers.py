"""``oms customers``: on-account customers' credit accounts and balances — the invoice
capability's receivables use case (functions/invoice/receivables.py), the same rules as
``PUT /customers/{channel}/{customer_id}/credit`` and ``GET …/balance``, called with the
operator's AWS credentials like ``oms nodes``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from oms.console import err, out
from oms.environment import Environment, connect
from oms.failures import OmsError

if TYPE_CHECKING:
    from functions.invoice.receivables import ReceivablesService

app = typer.Typer(help="On-account customers: set a credit account (currency, limit, payment terms), show a "
                       "balance.", no_args_is_help=True)


def service(env: Environment) -> ReceivablesService:
    from functions.invoice.wiring import receivables_service

    table = env.outputs.get("TableName")
    if not table:
        raise OmsError(f"{env.stack_name} has no TableName output")
    return receivables_service(table)


@app.command("credit")
def credit(ctx: typer.Context,
           channel: Annotated[str, typer.Argument(help="the channel the customer orders through, e.g. marketplace")],
           customer_id: Annotated[str, typer.Argument(help="the channel's customer id, e.g. B2B-1000")],
           currency: Annotated[str, typer.Option(help="ISO 4217 code the account is kept in")],
           limit: Annotated[str, typer.Option(help="the credit limit, e.g. 5000.00")],
           terms: Annotated[int, typer.Option(help="days an invoice is due after its issue date (0-365)")] = 30,
           ) -> None:
    """Create or change CUSTOMER_ID's credit account at CHANNEL; what the customer owes is kept, so
    the available credit is the new limit less it."""
    from functions.invoice.receivables import AccountTerms

    env = connect(ctx.obj.env)
    view = service(env).put_account(channel, customer_id, AccountTerms(
        currency=currency.strip().upper(), credit_limit=limit.strip(), payment_terms_days=terms))
    out.print(json.dumps(view, indent=2), soft_wrap=True)
    err.print(f"[green]saved[/] the credit account of {customer_id} at {channel}: {view['available_credit']} "
              f"{view['currency']} available of {view['credit_limit']}, due {view['payment_terms_days']} days after "
              "issue")


@app.command("balance")
def balance(ctx: typer.Context,
            channel: Annotated[str, typer.Argument(help="the customer's channel")],
            customer_id: Annotated[str, typer.Argument(help="the channel's customer id")]) -> None:
    """CUSTOMER_ID's open items with their days overdue, the ageing and the available credit."""
    out.print(balance_table(service(connect(ctx.obj.env)).balance(channel, customer_id)))


def balance_table(view: dict[str, Any]) -> Table:
    c = view["currency"]
    ageing = ", ".join(f"{k}: {v}" for k, v in view["ageing"].items())
    table = Table(title=f"{view['customer_id']} at {view['channel']}: {view['available_credit']} {c} available of "
                        f"{view['credit_limit']}; open {view['open_total']} ({ageing})", title_justify="left")
    for column in ("invoice", "order", "due", "open", "days overdue"):
        table.add_column(column, overflow="fold")
    for item in view["open_items"]:
        overdue = item["days_overdue"]
        table.add_row(item["invoice_number"], item.get("order_id") or "", item["due_date"] or "—",
                      f"{item['open_amount']} {c}", f"[red]{overdue}[/]" if overdue else "0")
    return table
