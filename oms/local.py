"""``oms local fill``: fill the local stack (`make up`) with realistic order history — copies of a
real order's items, written as an import writes them (``POST /_local/fill``, API.md "Local") —
to try the console, the listings and the bench at real volumes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Annotated, Any

import typer

from oms.console import out
from oms.environment import EnvName, local_info, local_port
from oms.failures import OmsError

app = typer.Typer(help="The local stack only: fill it with realistic order history.", no_args_is_help=True)


def fill(port: str, body: dict[str, Any], timeout: float = 900.0) -> dict[str, Any]:
    local_info(port)  # a clear error if no local stack answers
    request = urllib.request.Request(f"http://127.0.0.1:{port}/_local/fill", data=json.dumps(body).encode(),
                                     method="POST", headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http://127.0.0.1 only
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as e:
        try:
            detail = json.loads(e.read()).get("detail")
        except ValueError:
            detail = None
        raise OmsError(f"the local stack refused the fill ({e.code}): {detail or e.reason}") from e


@app.command("fill")
def fill_command(
    ctx: typer.Context,
    orders: Annotated[int | None, typer.Option(min=1, help="how many orders (e.g. 10000)")] = None,
    items: Annotated[int | None, typer.Option(min=1, help="or: about how many table items (e.g. 100000)")] = None,
    days: Annotated[float, typer.Option(min=0.001, max=366, help="spread over this many days before now")] = 28,
    customers: Annotated[int, typer.Option(min=1, help="distinct customers the orders belong to")] = 2000,
) -> None:
    """Write ORDERS completed orders of channel webshop (or about ITEMS items), each a copy of one
    real order placed and dispatched through the API, with its own ids, customer, invoice number
    and times; no stream consumer acts on them (no notice, invoice or event for history)."""
    if ctx.obj.env != EnvName.local:
        raise OmsError("fill writes synthetic orders: only into the local stack (--env local)")
    if (orders is None) == (items is None):
        raise OmsError("give --orders or --items")
    body: dict[str, Any] = {"days": days, "customers": customers}
    body |= {"orders": orders} if orders is not None else {"items": items}
    result = fill(local_port(), body)
    out.print(f"filled {result['orders']:,} orders ({result['items']:,} items, {result['items_per_order']} per "
              f"order, copies of {result['template_order_id']}) in {result['seconds']} s")
