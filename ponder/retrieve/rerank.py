"""Rerankers: reorder the fused candidates by reading the query and each passage together.

* ``endpoint``: a ``/v1/rerank`` API, the shape Jina, Cohere, SiliconFlow, vLLM and Xinference
  share: ``{"model", "query", "documents", "top_n"}`` in, ``{"results": [{"index",
  "relevance_score"}]}`` out.
* ``llm``: listwise reranking by the configured chat model: it sees the numbered passages and
  writes their order (``[3] > [1] > [2]``). Passages it leaves out keep their fused order after the
  ones it ranked, so a model that ignores the instruction changes nothing.
* ``none`` (default): no local cross-encoder ships with its weights on PyPI that we could verify,
  so nothing reranks unless configured.

Example::

    reranker = EndpointReranker(RerankerConfig(provider="endpoint", base_url=url, model="bge-reranker-v2-m3"))
    hits = reranker.rerank("乌龙茶烘焙多久", fused_hits, top_k=5)
    hits[0].ranks  # {"bm25": 4, "dense": 2, "rerank": 1}
"""

from __future__ import annotations

import re
from typing import Protocol

import httpx

from ponder.config import RerankerConfig
from ponder.http import post_json
from ponder.llm import OpenAICompatibleLLM
from ponder.text import detect_language
from ponder.types import Hit


class Reranker(Protocol):
    name: str

    def rerank(self, query: str, hits: list[Hit], top_k: int) -> list[Hit]: ...


class EndpointReranker:
    name = "rerank"

    def __init__(self, config: RerankerConfig):
        self.config = config
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._http = httpx.Client(timeout=config.timeout_s, headers=headers)

    def rerank(self, query: str, hits: list[Hit], top_k: int) -> list[Hit]:
        if not hits:
            return []
        payload = post_json(
            self._http, self.config.base_url.rstrip("/") + "/rerank",
            {"model": self.config.model, "query": query, "documents": [h.chunk.text for h in hits], "top_n": top_k},
            what=f"reranker '{self.config.model}'", retries=self.config.retries,
        )
        try:
            scored = [(int(r["index"]), float(r["relevance_score"])) for r in payload["results"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise RerankError(f"reranker '{self.config.model}' sent an unexpected response ({exc!r})") from None
        scored = [(index, score) for index, score in scored if 0 <= index < len(hits)]
        scored.sort(key=lambda pair: -pair[1])
        return _reranked([hits[index] for index, _ in scored], [score for _, score in scored], top_k)


class LLMListwiseReranker:
    name = "rerank"

    def __init__(self, llm: OpenAICompatibleLLM, max_tokens: int = 64):
        self.llm = llm
        self.max_tokens = max_tokens

    def rerank(self, query: str, hits: list[Hit], top_k: int) -> list[Hit]:
        if len(hits) < 2:
            return _reranked(hits, [1.0] * len(hits), top_k)
        prompt = listwise_prompt(query, hits)
        if self.llm.prompt_style == "completion":
            text = self.llm.complete(prompt + "\nOrder:", purpose="rerank", max_tokens=self.max_tokens,
                                     stop=["\n"]).text
        else:
            text = self.llm.chat([{"role": "user", "content": prompt}], purpose="rerank",
                                 max_tokens=self.max_tokens).text
        order = parse_order(text, len(hits))
        ranked = [hits[i] for i in order]
        return _reranked(ranked, [1.0 / (rank + 1) for rank in range(len(ranked))], top_k)


class RerankError(RuntimeError):
    """A reranker returned something unusable."""


def listwise_prompt(query: str, hits: list[Hit]) -> str:
    passages = "\n".join(f"[{n}] {' '.join(h.chunk.text.split())[:500]}" for n, h in enumerate(hits, start=1))
    if detect_language(query) == "zh":
        return (f"按与问题的相关程度给下面的段落排序，最相关的在前，只输出编号，例如 [2] > [1] > [3]。\n\n"
                f"问题：{query}\n\n{passages}")
    return (f"Rank the passages below by how well they answer the question, most relevant first. "
            f"Output only the numbers, like [2] > [1] > [3].\n\nQuestion: {query}\n\n{passages}")


def parse_order(text: str, count: int) -> list[int]:
    """0-based passage order from ``[3] > [1] …``; unmentioned passages follow in their old order."""
    seen: list[int] = []
    for number in re.findall(r"\d+", text):
        index = int(number) - 1
        if 0 <= index < count and index not in seen:
            seen.append(index)
    return seen + [i for i in range(count) if i not in seen]


def _reranked(hits: list[Hit], scores: list[float], top_k: int) -> list[Hit]:
    return [Hit(hit.chunk, score, "rerank", rank, {**hit.ranks, "rerank": rank})
            for rank, (hit, score) in enumerate(zip(hits[:top_k], scores), start=1)]


def make_reranker(config: RerankerConfig, llm: OpenAICompatibleLLM | None) -> Reranker | None:
    if config.provider == "endpoint":
        return EndpointReranker(config)
    if config.provider == "llm" and llm is not None:
        return LLMListwiseReranker(llm)
    return None
