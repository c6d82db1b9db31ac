"""``oms keys``: issue, revoke, rotate and list API keys (functions/access does the deciding)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from functions.access.keys import ApiKeyRecord, KeyManager
from functions.core.events import instant
from oms.console import err, out
from oms.environment import Environment, connect
from oms.failures import OmsError
from oms.nodes import require_node

app = typer.Typer(help="API keys: issue, revoke, rotate, list (values are shown once, stored only hashed).",
                  no_args_is_help=True)

_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_DURATION = re.compile(r"(\d+)([dhms])")


class Role(StrEnum):
    channel = "channel"
    node = "node"
    agent = "agent"
    finance = "finance"


def parse_grace(text: str) -> timedelta:
    """``0``, ``90s``, ``30m``, ``24h``, ``2d``, ``1h30m`` → a timedelta."""
    text = text.strip().lower()
    if text == "0":
        return timedelta(0)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise typer.BadParameter("say how long, like 30m, 24h, 2d or 0", param_hint="--grace")
    return timedelta(**{_UNITS[u]: sum(int(n) for n, v in parts if v == u) for _, u in parts})


def _manager(ctx: typer.Context, env: Environment | None = None) -> KeyManager:
    from functions.access.wiring import key_manager

    env = env or connect(ctx.obj.env)
    try:
        return key_manager(env.outputs)
    except KeyError as e:
        raise OmsError(f"{env.stack_name} has no key management outputs ({e.args[0]})") from e


def _when(stamp: str | None, *, short: bool = False) -> str:
    if stamp is None:
        return "—"
    return instant(stamp).strftime("%Y-%m-%d %H:%M" if short else "%Y-%m-%d %H:%M:%S UTC")


@app.command()
def issue(ctx: typer.Context,
          role: Annotated[Role, typer.Option(help="what the key may do (API.md, Access)")],
          principal: Annotated[str, typer.Option(help="channel id, node id, agent or finance user")]) -> None:
    """Issue a key for a principal; its value is printed once, here, and stored nowhere. A node
    key is for a node that exists (`oms nodes put` creates one)."""
    env = connect(ctx.obj.env)
    if role is Role.node:
        require_node(env, principal)
    value, record = _manager(ctx, env).issue(role.value, principal)
    out.print(value, soft_wrap=True)
    err.print(f"[green]issued[/] {record.name} ({record.role} {record.principal_id}); "
              "the key is shown only now: hand it over safely")


@app.command()
def revoke(ctx: typer.Context,
           key: Annotated[str | None, typer.Argument(help="the key's value")] = None,
           name: Annotated[str | None, typer.Option(help="the key's name, as `oms keys list` shows it")] = None,
           key_hash: Annotated[str | None, typer.Option("--hash", help="the key's SHA-256 (its API Gateway key)")]
           = None) -> None:
    """Disable a key at once: it answers 403 from then on."""
    if sum(x is not None for x in (key, name, key_hash)) != 1:
        raise typer.BadParameter("give exactly one of KEY, --name or --hash")
    manager = _manager(ctx)
    if name is not None:
        found = manager.find(name)
        record = manager.disable_hash(found.key_hash) if found else None
    elif key_hash is not None:
        record = manager.disable_hash(key_hash)
    else:
        record = manager.disable(key or "")
    if record is None:
        raise OmsError("no such key (`oms keys list` shows the names)")
    err.print(f"[green]revoked[/] {record.name} ({record.role} {record.principal_id}): it answers 403 from now on")


@app.command()
def rotate(ctx: typer.Context,
           principal: Annotated[str, typer.Option(help="whose key to rotate")],
           role: Annotated[Role | None, typer.Option(help="needed only if the principal has no key, or several roles")]
           = None,
           grace: Annotated[str, typer.Option(help="how long the old keys keep working: 30m, 24h, 2d, 0 (at once)")]
           = "24h") -> None:
    """Issue a new key for a principal; its old keys stop working after the grace period."""
    period = parse_grace(grace)
    rotation = _manager(ctx).rotate(principal, role=role.value if role else None, grace=period)
    out.print(rotation.value, soft_wrap=True)
    err.print(f"[green]issued[/] {rotation.record.name} ({rotation.record.role} {principal}); "
              "the key is shown only now: hand it over safely")
    if not rotation.retired:
        err.print("no old key to retire")
    elif period <= timedelta(0):
        err.print(f"old keys disabled now: {', '.join(k.name for k in rotation.retired)}")
    else:
        for k in rotation.retired:
            err.print(f"{k.name} stops working at {_when(k.not_after)}")


@app.command("list")
def list_keys(ctx: typer.Context,
              role: Annotated[Role | None, typer.Option(help="only this role's keys")] = None,
              principal: Annotated[str | None, typer.Option(help="only this principal's keys")] = None) -> None:
    """List keys (never their values: those are not stored)."""
    keys = _manager(ctx).listing(role=role.value if role else None, principal_id=principal)
    out.print(key_table(keys, now=datetime.now(UTC)))


def key_table(keys: list[ApiKeyRecord], now: datetime) -> Table:
    table = Table(title=f"{len(keys)} API keys (times in UTC)", title_justify="left")
    for column in ("name", "role", "principal", "enabled", "created", "expires"):
        table.add_column(column, overflow="fold")  # a narrow terminal wraps a cell, never hides it
    for k in keys:
        expired = k.not_after is not None and not k.usable_at(now)
        expires = _when(k.not_after, short=True)
        expires = f"[red]{expires} (passed)[/]" if expired else expires
        enabled = "yes" if k.enabled else "[red]no[/]"
        table.add_row(k.name, k.role, k.principal_id, enabled, _when(k.created_at, short=True), expires)
    return table
