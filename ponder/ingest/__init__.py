"""Ingest stage: files in, :class:`~ponder.types.Document` and :class:`~ponder.types.Chunk` out."""

from ponder.ingest.chunker import chunk_document
from ponder.ingest.files import collect_files
from ponder.ingest.readers import (
    SUPPORTED_SUFFIXES,
    IngestError,
    SkippedFile,
    UnsupportedFileType,
    read_document,
)

__all__ = [
    "SUPPORTED_SUFFIXES", "IngestError", "SkippedFile", "UnsupportedFileType",
    "chunk_document", "collect_files", "read_document",
]
