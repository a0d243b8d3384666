"""Ponder: retrieval-augmented generation built around reasoning models.

Stages, in the order data flows: ``ingest`` → ``index`` → ``retrieve`` → ``reason``; ``llm`` is the
model layer they call. :class:`Ponder` ties them together; :mod:`ponder.types` holds the objects
passed between stages.
"""

from ponder.api import NothingToSearch, Ponder
from ponder.config import Config, ConfigError, load_config
from ponder.types import Answer, Chunk, Citation, Document, Hit, IngestReport, Trace, Usage

__all__ = [
    "Answer", "Chunk", "Citation", "Config", "ConfigError", "Document", "Hit", "IngestReport",
    "NothingToSearch", "Ponder", "Trace", "Usage", "load_config",
]
__version__ = "0.1.0"
