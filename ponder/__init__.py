"""Ponder: retrieval-augmented generation built around reasoning models.

Stages, in the order data flows: ``ingest`` → ``index`` → ``retrieve`` → ``reason``; ``llm`` is the
model layer they call. :class:`Ponder` ties them together; :mod:`ponder.types` holds the objects
passed between stages.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ponder.api import NothingToSearch, Ponder
    from ponder.config import Config, ConfigError, load_config
    from ponder.types import Answer, Chunk, Citation, Document, Hit, IngestReport, Trace, Usage

# Loaded on first use (PEP 562), so a child that needs one stage (a conversion worker, the model
# server) does not import them all.
_HOMES = {"NothingToSearch": "ponder.api", "Ponder": "ponder.api", "Config": "ponder.config",
          "ConfigError": "ponder.config", "load_config": "ponder.config"}
_HOMES |= dict.fromkeys(["Answer", "Chunk", "Citation", "Document", "Hit", "IngestReport", "Trace", "Usage"],
                        "ponder.types")
__all__ = ["Answer", "Chunk", "Citation", "Config", "ConfigError", "Document", "Hit", "IngestReport",
           "NothingToSearch", "Ponder", "Trace", "Usage", "load_config"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'ponder' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
