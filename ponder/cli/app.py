"""The Typer app, its global options (``--config``, ``--data-dir``) and what the commands share: opening
the index, the filter options, ``main``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, cast

import typer
from rich.markup import escape

from ponder.api import NothingToSearch, Ponder
from ponder.cli.render import (
    err,
)
from ponder.config import ConfigError, load_config
from ponder.index import StoreError
from ponder.llm import LLMError, LocalServerError
from ponder.retrieve import Filter, parse_date
from ponder.retrieve.filters import PassageKind

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Ponder: retrieval-augmented generation with reasoning models.")


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Optional[Path] = typer.Option(None, "--config", help="A ponder.toml file.", dir_okay=False),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Where the index lives."),
) -> None:
    ctx.obj = {"config": config, "data_dir": data_dir}


def _open(ctx: typer.Context, data_dir: Path | None = None) -> Ponder:
    if data_dir:
        return Ponder(load_config(ctx.obj["config"], overrides={"data_dir": str(data_dir)}))
    return Ponder(_config(ctx, {}))


GLOB = typer.Option(None, "--glob", help="Only documents whose path matches, e.g. '*.pdf'.")


AFTER = typer.Option(None, "--after", help="Only documents modified on or after this date (YYYY-MM-DD).")


BEFORE = typer.Option(None, "--before", help="Only documents modified before this date (YYYY-MM-DD).")


KIND = typer.Option(None, "--type", help="Only 'figure' passages (pictures: caption, text inside, description) "
                    "or only 'text'.")


def _where(glob: str | None, after: str | None, before: str | None, kind: str | None = None) -> Filter | None:
    if kind not in (None, "figure", "text"):
        raise typer.BadParameter(f"{kind!r} is not a passage type; use figure or text", param_hint="--type")
    dates = {}
    for flag, text in (("--after", after), ("--before", before)):
        try:
            dates[flag] = parse_date(text) if text else None
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=flag) from None
    where = Filter(path_glob=glob, modified_after=dates["--after"], modified_before=dates["--before"],
                   kind=cast("PassageKind | None", kind))  # checked above
    return where if where != Filter() else None


def _config(ctx: typer.Context, overrides: dict[str, Any]):
    chosen = ctx.obj["data_dir"]
    return load_config(ctx.obj["config"], overrides={"data_dir": str(chosen) if chosen else None, **overrides})


def main() -> None:
    """Console entry point: known errors become one clear line and a non-zero exit status."""
    try:
        app()
    except ConfigError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise SystemExit(2) from None
    except (NothingToSearch, LLMError, LocalServerError, StoreError, FileNotFoundError, ValueError) as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise SystemExit(1) from None
