"""Questions written from the corpus: which chunks to ask about, and the chat model asking.

Sources are sampled evenly over documents (``per_doc`` chunks each, seeded); multi-hop and
comparison questions get two chunks from different documents that name the same entity (the
entity graph's mentions; without a graph, a shared rare term). The chat model writes one question
of the asked kind and a short reference answer copied from the source, in the source's language.
Each question keeps the chunk ids it was written from.

Example::

    sources = sample_sources(ponder.store, ["lookup", "multi-hop"], per_doc=2, limit=50)
    written = write_question(ponder.model("chat"), sources[0])  # WrittenQuestion or a reason
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ponder.evaluate.answers import normalise
from ponder.index.store import Store
from ponder.llm.client import LLMError, OpenAICompatibleLLM
from ponder.llm.structured import ask_json
from ponder.reason.numbers import read_numbers
from ponder.text import CJK_CHARACTER, detect_language
from ponder.types import Chunk
from ponder.untrusted import neutralised_line

KINDS = ("lookup", "multi-hop", "numeric", "comparison", "unanswerable")
PAIRED_KINDS = ("multi-hop", "comparison")
MIN_SOURCE_CHARS = 80  # a heading or a caption alone does not make a question (a Chinese character counts 2)

QUESTION_SCHEMA = {
    "type": "object",
    "properties": {"question": {"type": "string", "minLength": 5, "maxLength": 150},
                   "answer": {"type": "string", "maxLength": 60}},
    "required": ["question", "answer"],
    "additionalProperties": False,
}

_ASK: dict[str, dict[str, Any]] = {
    "en": {
        "lookup": "a question that one fact in the passage answers",
        "numeric": "a question whose answer is a number, amount or date stated in the passage",
        "multi-hop": "a question that needs a fact from passage 1 and a fact from passage 2 together",
        "comparison": "a question comparing something in passage 1 with something in passage 2",
        "unanswerable": ("a question on the passage's topic that the passage does NOT answer "
                         "(its answer is not in it); the answer field stays empty"),
        "instruction": "Write {ask}. Ask it as a user would, without saying 'the passage'.",
        "reply": 'Reply with JSON: {"question": "...", "answer": "the short answer, copied from the passage"}.',
        "passage": "Passage {n}:", "example": ("The Eiffel Tower was completed in 1889 for the World's Fair.",
                                                '{"question": "When was the Eiffel Tower completed?", '
                                                '"answer": "1889"}'),
    },
    "zh": {
        "lookup": "一个可由段落中某个事实回答的问题",
        "numeric": "一个答案是段落中数字、数量或日期的问题",
        "multi-hop": "一个必须结合段落1和段落2中的事实才能回答的问题",
        "comparison": "一个比较段落1与段落2中内容的问题",
        "unanswerable": "一个与段落主题相关、但段落无法回答的问题（答案不在段落中），answer 留空",
        "instruction": "请写{ask}。像用户提问那样写，不要说“段落”。",
        "reply": '用 JSON 回复：{"question": "……", "answer": "简短答案，从段落中原样摘录"}。',
        "passage": "段落{n}：", "example": ("埃菲尔铁塔于1889年为世界博览会建成。",
                                          '{"question": "埃菲尔铁塔是哪一年建成的？", "answer": "1889年"}'),
    },
}


@dataclass(frozen=True)
class Source:
    """What one question is written from: its kind and one chunk (two for paired kinds)."""

    kind: str
    chunks: tuple[Chunk, ...]

    @property
    def id(self) -> str:
        """Stable across runs: the kind and the chunk ids (content hashes), so a rerun finds it."""
        return hashlib.sha1(f"{self.kind}:{','.join(c.id for c in self.chunks)}".encode()).hexdigest()[:16]

    @property
    def language(self) -> str:
        return detect_language(" ".join(c.text for c in self.chunks))


@dataclass(frozen=True)
class WrittenQuestion:
    source: Source
    question: str
    reference: str  # the short answer the writer copied from the source; "" for unanswerable
    model: str
    prompt_tokens: int
    completion_tokens: int


def sample_sources(store: Store, kinds: list[str], per_doc: int, limit: int | None,
                   seed: int = 0) -> list[Source]:
    """Up to ``per_doc`` chunks from every document, in document order, each given a kind in turn
    (numeric only where the chunk states a number), plus pairs for the paired kinds; at most
    ``limit`` sources in all, the kinds interleaved."""
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown question kinds {unknown}; valid kinds: {', '.join(KINDS)}")
    rng = random.Random(seed)
    single = [k for k in kinds if k not in PAIRED_KINDS]
    paired = [k for k in kinds if k in PAIRED_KINDS]
    by_kind: dict[str, list[Source]] = defaultdict(list)
    turn = 0
    documents = store.documents()
    for document in documents:
        usable = [c for c in store.chunks_of(document.id) if long_enough(c.text)]
        for chunk in sorted(rng.sample(usable, min(per_doc, len(usable))), key=lambda c: c.start):
            if not single:
                break
            kind = single[turn % len(single)]
            turn += 1
            if kind == "numeric" and not states_a_number(chunk.text):
                if "lookup" not in single:
                    continue
                kind = "lookup"
            by_kind[kind].append(Source(kind, (chunk,)))
    if paired:
        wanted = per_doc * max(len(documents) // 2, 1)
        for index, pair in enumerate(linked_pairs(store, rng, wanted)):
            kind = paired[index % len(paired)]
            by_kind[kind].append(Source(kind, pair))
    interleaved = [source for group in _round_robin([by_kind[k] for k in kinds]) for source in group]
    return interleaved[:limit] if limit else interleaved


def states_a_number(text: str) -> bool:
    """A number the grounding check would read as one: "统一" or "第一" are not amounts."""
    return any(not number.hedged for number in read_numbers(text))


def long_enough(text: str) -> bool:
    return len(text.strip()) + len(CJK_CHARACTER.findall(text)) >= MIN_SOURCE_CHARS


def _round_robin(groups: list[list[Source]]) -> list[list[Source]]:
    longest = max((len(g) for g in groups), default=0)
    return [[g[i] for g in groups if i < len(g)] for i in range(longest)]


def linked_pairs(store: Store, rng: random.Random, wanted: int) -> list[tuple[Chunk, Chunk]]:
    """Up to ``wanted`` pairs of chunks from different documents that name the same entity (the
    graph's mentions), rarest entity first; without a graph, pairs sharing a rare BM25 term. One
    pair per entity, no chunk in two pairs."""
    chunk_ids_by_key: dict[str, list[str]] = defaultdict(list)
    for chunk_id, key, _ in store.graph_rows().mentions:
        chunk_ids_by_key[key].append(chunk_id)
    if not chunk_ids_by_key:
        for chunk_id, tokens in store.iter_tokens():
            for token in set(tokens):
                if len(token) > 3:
                    chunk_ids_by_key[token].append(chunk_id)
    candidates = [(len(ids), key, ids) for key, ids in chunk_ids_by_key.items() if 2 <= len(ids) <= 6]
    rng.shuffle(candidates)
    candidates.sort(key=lambda item: item[0])
    pairs: list[tuple[Chunk, Chunk]] = []
    used: set[str] = set()
    for _, _, ids in candidates:
        chunks = [c for c in store.get_chunks(sorted(set(ids))) if long_enough(c.text)]
        pair = next(((a, b) for i, a in enumerate(chunks) for b in chunks[i + 1:]
                     if a.document_id != b.document_id and not {a.id, b.id} & used), None)
        if pair:
            used.update(c.id for c in pair)
            pairs.append(pair)
            if len(pairs) == wanted:
                break
    return pairs


def question_prompt(llm: OpenAICompatibleLLM, source: Source) -> list[dict[str, str]] | str:
    """Chat messages, or for a base model a completion prompt with one worked example (and no JSON
    template, which a base model copies)."""
    words = _ASK[source.language]
    instruction = words["instruction"].format(ask=words[source.kind])
    passages = "\n\n".join(f"{words['passage'].format(n=n)}\n{neutralised_line(c.text)}"
                           for n, c in enumerate(source.chunks, start=1))
    if llm.prompt_style == "completion":
        example_passage, example_json = words["example"]
        return (f"{instruction}\n\n{words['passage'].format(n=1)}\n{example_passage}\nJSON: {example_json}\n\n"
                f"{passages}\nJSON: ")
    return [{"role": "user", "content": f"{instruction} {words['reply']}\n\n{passages}"}]


def write_question(llm: OpenAICompatibleLLM, source: Source) -> WrittenQuestion | str:
    """The question the chat model writes from ``source``, or why there is none (a reason string,
    counted on the data card). An endpoint that fails raises :class:`LLMError`: that is no reason
    to drop a source, and the run stops with the endpoint named."""
    result = ask_json(llm, question_prompt(llm, source), schema=QUESTION_SCHEMA, validate=_question_fields,
                      purpose="distill-question", max_tokens=320)
    if result.value is None and result.generation is None:  # no reply at all: the endpoint failed
        raise LLMError(f"the question writer failed: {result.error}")
    if result.value is None:
        return "question: unusable reply from the writer"
    question, reference = result.value
    if source.kind == "unanswerable":
        reference = ""
    elif not reference or normalise(reference) not in normalise(" ".join(c.text for c in source.chunks)):
        return "question: reference answer not in the source"
    usage = result.generation.usage if result.generation else None
    return WrittenQuestion(source, question, reference, llm.model,
                           usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0)


def _question_fields(value: Any) -> tuple[str, str]:
    if not isinstance(value, dict) or not isinstance(value.get("question"), str):
        raise ValueError("needs a question")
    question = " ".join(value["question"].split())
    if len(question) < 5:
        raise ValueError("the question is empty")
    return question, " ".join(str(value.get("answer") or "").split())



def near_duplicate(question: str, earlier: list[str], similarity: float | None = None,
                   threshold: float = 0.95) -> bool:
    """The same text as an earlier question once case, spaces and punctuation are dropped, or
    ``similarity`` (the best cosine to an earlier question's embedding) at ``threshold`` or more."""
    key = normalise(question)
    return any(normalise(other) == key for other in earlier) or (similarity or 0.0) >= threshold
