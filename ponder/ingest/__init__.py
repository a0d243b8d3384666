"""Ingest stage: files in, :class:`~ponder.types.Document` and :class:`~ponder.types.Chunk` out."""

from ponder.ingest.chunker import chunk_document
from ponder.ingest.files import collect_files, in_shard
from ponder.ingest.readers import (
    SUPPORTED_SUFFIXES,
    IngestError,
    ReadOptions,
    SkippedFile,
    UnsupportedFileType,
    content_hash,
    document_id,
    load_bytes,
    read_document,
)

__all__ = [
    "SUPPORTED_SUFFIXES", "IngestError", "ReadOptions", "SkippedFile", "UnsupportedFileType",
    "chunk_document", "collect_files", "in_shard", "content_hash", "document_id", "load_bytes", "read_document",
]
