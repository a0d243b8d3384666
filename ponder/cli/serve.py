"""``ponder serve`` (the OpenAI-compatible HTTP server), ``ponder mcp`` and ``ponder keys``."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Optional

import typer
from rich.markup import escape

from ponder.cli.app import _config, app
from ponder.cli.render import (
    err,
    out,
)
from ponder.config import Config

CLIENTS_HELP = """
Point an OpenAI-compatible client at it: base URL http://HOST:PORT/v1, API key from
`ponder keys create`, model `ponder` (or `ponder:COLLECTION:MODE`, see GET /v1/models).
Thinking arrives as `reasoning_content`, as from DeepSeek's API.

  Open WebUI: Admin Settings > Connections > OpenAI API: URL http://HOST:PORT/v1 and the key.

  Chatbox: Settings > Model Provider > Add > OpenAI API Compatible: API host http://HOST:PORT,
  path /v1/chat/completions, the key, model ponder.

  Cherry Studio: Settings > Model Provider > Add (type OpenAI): API address http://HOST:PORT,
  the key; Manage models lists the collections and modes.

  The openai package: OpenAI(base_url="http://HOST:PORT/v1", api_key=KEY).
"""


@app.command(epilog=CLIENTS_HELP)
def serve(
    ctx: typer.Context,
    host: Optional[str] = typer.Option(None, "--host", help="Address to listen on (serve.host; default 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, "--port", help="Port (serve.port; default 8000)."),
    no_auth: bool = typer.Option(False, "--no-auth", help="Serve every collection without API keys "
                                 "(serve.require_keys = false); for a machine only you can reach."),
) -> None:
    """Serve the OpenAI-compatible chat API, collections with uploads, and the web page at /."""
    import uvicorn

    from ponder.serve.app import create_app

    config = _config(ctx, {"serve.require_keys": False} if no_auth else {})
    host, port = host or config.serve.host, port or config.serve.port
    _say_who_gets_in(ctx, config, host, "read and change every collection")
    err.print(f"web page: http://{host}:{port}/   OpenAI base URL: http://{host}:{port}/v1")
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")


def _say_who_gets_in(ctx: typer.Context, config: Config, host: str, can: str) -> None:
    """Before a server starts: there are no keys yet, or (without keys) it is reachable off this machine."""
    if config.serve.require_keys:
        with _key_store(ctx) as store:
            live = any(key.revoked_at is None for key in store.list())
        if not live:
            err.print("every request needs an API key and there is none yet: "
                      "`ponder keys create NAME --write '*'` (or start with --no-auth)")
    elif host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[yellow]warning:[/] no API keys required and listening on {escape(host)}: anyone who can "
                  f"reach it can {can}")


@app.command("mcp")
def mcp_server(
    ctx: typer.Context,
    http: bool = typer.Option(False, "--http", help="Streamable HTTP at http://HOST:PORT/mcp instead of stdio; "
                              "every request needs an API key (ponder keys create), as for ponder serve."),
    host: Optional[str] = typer.Option(None, "--host", help="With --http (serve.host)."),
    port: Optional[int] = typer.Option(None, "--port", help="With --http (serve.port)."),
    no_auth: bool = typer.Option(False, "--no-auth", help="With --http: no API keys (serve.require_keys = false); "
                                 "for a machine only you can reach."),
) -> None:
    """The MCP server: tools search, ask, list_collections, list_documents over the collections."""
    from ponder.serve.mcp import run_mcp

    config = _config(ctx, {"serve.require_keys": False} if no_auth else {})
    host, port = host or config.serve.host, port or config.serve.port
    if http:
        _say_who_gets_in(ctx, config, host, "read every collection")
    run_mcp(config, "streamable-http" if http else "stdio", host, port)


keys_app = typer.Typer(no_args_is_help=True, help="API keys for `ponder serve`, each scoped to collections.")


app.add_typer(keys_app, name="keys")


def _key_store(ctx: typer.Context) -> contextlib.closing:
    """The data dir's key store, closed when the ``with`` block ends (errors included)."""
    from ponder.serve.keys import open_keys

    return contextlib.closing(open_keys(_config(ctx, {})))


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Who or what the key is for."),
    read: Optional[list[str]] = typer.Option(None, "--read", help="A collection it may search and ask ('*': all). "
                                             "Repeatable."),
    write: Optional[list[str]] = typer.Option(None, "--write", help="A collection it may also upload to, delete "
                                              "from and create ('*': all). Repeatable."),
) -> None:
    """Create a key; its secret is printed once (only a hash is stored)."""
    with _key_store(ctx) as store:
        try:
            key, secret = store.create(name, read or [], write or [])
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--read/--write") from None
    err.print(f"key {key.id} ({escape(name)}): " + ", ".join(f"{c} {a}" for c, a in key.scopes.items()))
    out.print(secret)


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """Every key: id, name, scopes, created, revoked."""
    with _key_store(ctx) as store:
        keys = store.list()
    for key in keys:
        scopes = ", ".join(f"{c} {a}" for c, a in key.scopes.items())
        revoked = f"  revoked {datetime.fromtimestamp(key.revoked_at):%Y-%m-%d %H:%M}" if key.revoked_at else ""
        out.print(f"{key.id}  {key.name}  [{scopes}]  "
                  f"created {datetime.fromtimestamp(key.created_at):%Y-%m-%d %H:%M}{revoked}", markup=False)
    if not keys:
        out.print("no keys")


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: str = typer.Argument(..., help="The key's id (ponder keys list).")) -> None:
    """Revoke a key: requests with it get 401 from then on."""
    with _key_store(ctx) as store:
        revoked = store.revoke(key_id)
    if not revoked:
        raise typer.BadParameter(f"no live key with id {key_id!r} (see `ponder keys list`)", param_hint="KEY_ID")
    out.print(f"revoked {key_id}")
