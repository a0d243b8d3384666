"""Rerankers against the /v1/rerank and chat wire formats (replayed locally), and through search."""

from __future__ import annotations

import pytest

from ponder.config import RerankerConfig, load_config
from ponder.llm import make_llm
from ponder.retrieve.rerank import EndpointReranker, LLMListwiseReranker, RerankError, parse_order
from ponder.types import Chunk, Hit
from tests.conftest import EXAMPLES
from tests.fake_provider import FakeProvider, Reply, chat_response


def _hits(*texts: str) -> list[Hit]:
    return [Hit(Chunk(f"c{n}", "d", "/x.txt", text, 0, len(text)), 1.0 / n, "hybrid", n, {"bm25": n})
            for n, text in enumerate(texts, start=1)]


def test_parse_order_is_robust() -> None:
    assert parse_order("[3] > [1] > [2]", 3) == [2, 0, 1]
    assert parse_order("3, 3, 9, 1", 4) == [2, 0, 1, 3]  # repeats and out-of-range numbers ignored
    assert parse_order("I cannot rank these.", 3) == [0, 1, 2]


def test_endpoint_reranker_reorders_and_records_ranks(provider: FakeProvider) -> None:
    provider.replies.append(Reply(body={"results": [{"index": 2, "relevance_score": 0.9},
                                                    {"index": 0, "relevance_score": 0.4}]}))
    config = RerankerConfig(provider="endpoint", base_url=provider.url, model="bge-reranker-v2-m3")
    hits = EndpointReranker(config).rerank("oolong?", _hits("a", "b", "oolong"), top_k=2)
    assert [h.chunk.id for h in hits] == ["c3", "c1"] and [h.score for h in hits] == [0.9, 0.4]
    assert hits[0].ranks == {"bm25": 3, "rerank": 1} and hits[0].retriever == "rerank"
    assert provider.requests[0]["path"] == "/v1/rerank"
    assert provider.requests[0]["json"] == {"model": "bge-reranker-v2-m3", "query": "oolong?",
                                            "documents": ["a", "b", "oolong"], "top_n": 2}
    provider.replies.append(Reply(body={"data": []}))
    with pytest.raises(RerankError, match="unexpected response"):
        EndpointReranker(config).rerank("q", _hits("a", "b"), top_k=2)


def test_llm_listwise_reranker(provider: FakeProvider) -> None:
    config = load_config(env={}, overrides={"chat.base_url": provider.url, "chat.model": "deepseek-chat"})
    llm = make_llm(config, "chat", local_server=lambda: pytest.fail("no embedded model here"))
    provider.replies.append(Reply(body=chat_response("[3] > [1]")))
    hits = LLMListwiseReranker(llm).rerank("青溪图书馆几点开门？", _hits("甲", "乙", "丙"), top_k=3)
    assert [h.chunk.id for h in hits] == ["c3", "c1", "c2"]
    assert "按与问题的相关程度" in provider.requests[0]["json"]["messages"][0]["content"]
    provider.replies.append(Reply(body=chat_response("Sure! Here is my ranking of the passages.")))
    unchanged = LLMListwiseReranker(llm).rerank("q", _hits("a", "b"), top_k=2)
    assert [h.chunk.id for h in unchanged] == ["c1", "c2"]


def test_search_with_a_reranker(make_ponder, provider: FakeProvider) -> None:
    ponder = make_ponder(**{"reranker.provider": "endpoint", "reranker.base_url": provider.url,
                            "reranker.model": "rr", "reranker.candidates": 6})
    ponder.ingest([EXAMPLES])
    provider.replies.append(Reply(body={"results": [{"index": 5, "relevance_score": 0.8},
                                                    {"index": 1, "relevance_score": 0.7}]}))
    hits = ponder.search("oolong", top_k=2)
    documents = provider.requests[0]["json"]["documents"]
    assert len(documents) == 6 and [h.chunk.text for h in hits] == [documents[5], documents[1]]
    assert all("rerank" in h.ranks for h in hits)
