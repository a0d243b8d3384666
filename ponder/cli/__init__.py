"""The ``ponder`` command line: ingest, search, ask, docs, eval, serve, keys, mcp, graph, log, demo.

Every command takes ``--config PATH`` and ``--data-dir PATH`` before the command name
(``ponder --data-dir ./idx ask "..."``) and ``--json`` where its output is data. ``app`` holds the
Typer app and what the commands share; one module per group of commands registers its commands
on it (imported here, so ``ponder.cli.app`` is complete once ``ponder.cli`` is imported); ``render``
prints answers, traces, grounding and progress for all of them.
"""

# Importing a group registers its commands, in the order `ponder --help` lists them.
# isort: off
from ponder.cli import index, answer, evaluate, demo, serve, graph  # noqa: F401
# isort: on
from ponder.cli.app import app, main
from ponder.cli.render import highlight, print_answer, print_grounding, snippet

__all__ = ["app", "highlight", "main", "print_answer", "print_grounding", "snippet"]
