"""``oms nodes``: list the fulfilment nodes, create or change one — route's node management, the
same use case and rules as ``PUT /nodes/{node_id}`` (functions/route/nodes.py), called with the
operator's AWS credentials like ``oms keys``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from oms.console import err, out
from oms.environment import Environment, connect
from oms.failures import OmsError

if TYPE_CHECKING:
    from functions.route.nodes import NodeService

app = typer.Typer(help="Fulfilment nodes: list them, create or change one (the rules of PUT /nodes).",
                  no_args_is_help=True)


def operator() -> Any:
    """Who an operator's node writes are recorded as (``updated_by``: ``agent:oms:<user>``)."""
    from functions.core.principal import Principal

    return Principal("agent", f"oms:{os.environ.get('USER') or 'operator'}")


def service(env: Environment) -> NodeService:
    from functions.route.wiring import node_service

    table = env.outputs.get("TableName")
    if not table:
        raise OmsError(f"{env.stack_name} has no TableName output")
    return node_service(table)


def require_node(env: Environment, node_id: str) -> None:
    """A node key is for a node that exists (create it first: ``oms nodes put``)."""
    from functions.core.errors import NotFound

    try:
        service(env).get(node_id, operator())
    except NotFound as e:
        raise OmsError(f"no node {node_id} in {env.stack_name}: create it first with "
                       f"`oms nodes put {node_id} --file node.json`") from e


def _read_body(file: Path) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text()
        body = json.loads(text)
    except OSError as e:
        raise OmsError(f"cannot read {file}: {e.strerror or e}") from e
    except ValueError as e:
        raise OmsError(f"{file} is not JSON: {e}") from e
    if not isinstance(body, dict):
        raise OmsError(f"{file} must hold one JSON object: the node, as PUT /nodes/{{node_id}} takes it")
    return body


def _definition(body: dict[str, Any]) -> Any:
    """The node as ``PUT /nodes/{node_id}`` reads it; refused naming the fields as the API's 422 does."""
    from pydantic import ValidationError

    from functions.core.field_errors import field_errors
    from functions.route.models import NodeIn

    try:
        return NodeIn.model_validate(body).to_command()
    except ValidationError as e:
        problems = "; ".join(f"{f.field}: {f.message}" for f in field_errors(e.errors()[:5], default="node"))
        raise OmsError(f"the node is not valid: {problems}") from e


@app.command("put")
def put(ctx: typer.Context,
        node_id: Annotated[str, typer.Argument(help="the node's id, e.g. DC-HAMBURG")],
        file: Annotated[Path | None, typer.Option(
            "--file", "-f", help="the whole node as JSON, as PUT /nodes/{node_id} takes it (- for stdin)")] = None,
        active: Annotated[bool | None, typer.Option(
            "--active/--inactive", help="open the node, or pause it: an inactive node gets no new requests")] = None,
        priority: Annotated[int | None, typer.Option(help="ties go to the lowest")] = None) -> None:
    """Create or change a node; with no --file, the options change an existing node."""
    if file is None and active is None and priority is None:
        raise typer.BadParameter("give --file, or --active/--inactive or --priority to change a node")
    env = connect(ctx.obj.env)
    nodes = service(env)
    if file is not None:
        body = _read_body(file)
        before = None
    else:
        from functions.core.errors import NotFound

        try:
            before = nodes.get(node_id, operator())
        except NotFound as e:
            raise OmsError(f"no node {node_id} in {env.stack_name}: create it with --file node.json") from e
        body = {k: before[k] for k in ("type", "name", "address", "priority", "cut_off", "timezone",
                                       "processing_days", "daily_capacity", "shipping_methods",
                                       "accepts_returns", "active")}
    if active is not None:
        body["active"] = active
    if priority is not None:
        body["priority"] = priority
    view, created = nodes.put(node_id, _definition(body), operator())
    out.print(json.dumps(view, indent=2, ensure_ascii=False), soft_wrap=True)
    if created:
        err.print(f"[green]created[/] node {node_id}; issue its key with "
                  f"`oms keys issue --role node --principal {node_id}`")
    elif before is not None and before["version"] == view["version"]:
        err.print(f"node {node_id} unchanged (version {view['version']})")
    else:
        err.print(f"[green]saved[/] node {node_id} (version {view['version']}); orders planned from now on use it")


@app.command("list")
def list_nodes(ctx: typer.Context) -> None:
    """Every node, active or not, by id."""
    out.print(node_table(service(connect(ctx.obj.env)).network(operator())))


def node_table(nodes: list[dict[str, Any]]) -> Table:
    table = Table(title=f"{len(nodes)} nodes", title_justify="left")
    for column in ("node", "type", "name", "country", "priority", "cut-off", "methods", "active", "updated (UTC)"):
        table.add_column(column, overflow="fold")
    for n in nodes:
        table.add_row(n["node_id"], n["type"], n["name"], n["address"]["country"], str(n["priority"]),
                      f"{n['cut_off']} {n['timezone']}", ", ".join(n["shipping_methods"]),
                      "yes" if n["active"] else "[red]no[/]", n["updated_at"][:16].replace("T", " "))
    return table
