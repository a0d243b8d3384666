"""The OpenAI chat-completions wire format, as DeepSeek extends it: thinking travels as
``reasoning_content`` beside ``content``, so chat front ends that know DeepSeek show it.

Ponder's extras: the final chunk (or the message, when not streaming) carries a ``ponder`` object
with the citations, mode, route, timings and fallbacks; the content ends with a numbered source
list for clients that ignore extra fields.

Model ids are ``ponder`` (default collection, configured mode), ``ponder:<collection>`` and
``ponder:<collection>:<mode>``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import Any, Callable

from ponder.config import ServeConfig
from ponder.index import StoredDocument
from ponder.llm.thinking import split_thinking
from ponder.types import Answer, Chunk, Turn, location

ChunkLookup = Callable[[list[str]], list[Chunk]]  # chunk ids -> the chunks found

MODEL_PREFIX = "ponder"
SOURCES_HEADING = {"en": "Sources:", "zh": "来源："}


class ChatRequestError(ValueError):
    def __init__(self, message: str, status: int = 400, code: str = "invalid_request"):
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class ModelId:
    collection: str
    mode: str | None  # None: the configured reason.mode

    @property
    def id(self) -> str:
        return ":".join([MODEL_PREFIX, self.collection] + ([self.mode] if self.mode else []))


def parse_model(model: str, default_collection: str, modes: tuple[str, ...]) -> ModelId:
    parts = (model or MODEL_PREFIX).split(":")
    if parts[0] != MODEL_PREFIX or len(parts) > 3:
        raise ChatRequestError(f"unknown model {model!r}: models are 'ponder', 'ponder:<collection>' and "
                               "'ponder:<collection>:<mode>' (GET /v1/models lists them)", 404, "model_not_found")
    collection = parts[1] if len(parts) > 1 and parts[1] else default_collection
    mode = parts[2] if len(parts) > 2 else None
    if mode is not None and mode not in modes:
        raise ChatRequestError(f"unknown mode {mode!r} in model {model!r}; modes: {', '.join(modes)}", 404,
                               "model_not_found")
    return ModelId(collection, mode)


def conversation(messages: Any, limits: ServeConfig) -> tuple[str, list[Turn]]:
    """The question (the last user turn) and the earlier turns, their reasoning removed: neither a
    ``reasoning_content`` field nor inline ``<think>`` text goes back to a model. System turns are
    ignored (Ponder writes its own instructions). Sizes are held to ``limits`` (serve.max_*)."""
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise ChatRequestError("'messages' must be a list of message objects")
    if not messages:
        raise ChatRequestError("'messages' is empty")
    if len(messages) > limits.max_messages:
        raise ChatRequestError(f"{len(messages)} messages; at most {limits.max_messages} (serve.max_messages)",
                               413, "too_many_messages")
    turns: list[Turn] = []
    for message in messages:
        role = message.get("role")
        if role in ("user", "assistant"):
            text = _text(message.get("content"))
            if role == "assistant":
                text = split_thinking(text)[0]
            turns.append(Turn(role, text))
    if not turns or turns[-1].role != "user" or not turns[-1].text.strip():
        raise ChatRequestError("the last message must be a user message with the question")
    question = turns[-1].text.strip()
    check_question(question, limits)
    size = sum(len(turn.text) for turn in turns)
    if size > limits.max_conversation_chars:
        raise ChatRequestError(f"the messages hold {size} characters; at most {limits.max_conversation_chars} "
                               "(serve.max_conversation_chars)", 413, "too_long")
    return question, turns[:-1]


def check_question(question: str, limits: ServeConfig) -> None:
    """A question or search query within ``serve.max_question_chars``."""
    if len(question) > limits.max_question_chars:
        raise ChatRequestError(f"the question is {len(question)} characters; at most {limits.max_question_chars} "
                               "(serve.max_question_chars)", 413, "too_long")


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part["text"] for part in content
                       if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str))
    raise ChatRequestError("message content must be a string or a list of content parts")


def chunk_view(chunk: Chunk, collection: str) -> dict[str, Any]:
    """A chunk as clients see it: text and provenance, and where to fetch it again."""
    file = _file_name(chunk.path)
    return {"chunk_id": chunk.id, "document_id": chunk.document_id, "file": file, "page": chunk.page,
            "page_end": chunk.page_end, "heading_path": list(chunk.heading_path),
            "location": location(file, chunk.page, chunk.heading_path, chunk.page_end, chunk.figure),
            "text": chunk.text,
            "collection": collection, "url": f"/v1/collections/{collection}/chunks/{chunk.id}", "type": chunk.kind,
            "figure": figure_view(chunk, collection)}


def figure_view(chunk: Chunk, collection: str) -> dict[str, Any] | None:
    """A figure passage's picture: which figure, where on its page, and the URL of its image."""
    figure = chunk.figure
    if figure is None:
        return None
    image = f"/v1/collections/{collection}/chunks/{chunk.id}/image" if figure.image else None
    return {"label": figure.label(), "number": figure.number, "page": figure.page,
            "bbox": list(figure.bbox) if figure.bbox else None, "caption": figure.caption,
            "width": figure.width, "height": figure.height, "image_url": image}


def document_view(document: StoredDocument) -> dict[str, Any]:
    """An indexed document as clients see it (its file's name, not the server's path)."""
    return {"id": document.id, "file": _file_name(document.path), "file_type": document.file_type,
            "pages": document.page_count, "chunks": document.chunk_count, "ingested_at": document.ingested_at,
            "modified_at": document.modified_at}


def citations_json(answer: Answer, collection: str, lookup: ChunkLookup | None = None) -> list[dict[str, Any]]:
    """Each citation with its chunk; ``lookup`` fetches cited chunks that were not passages (those
    behind a community report)."""
    chunks = {hit.chunk.id: hit.chunk for hit in answer.hits}
    missing = [c.chunk_id for c in answer.citations if c.chunk_id not in chunks]
    if missing and lookup is not None:
        chunks.update({chunk.id: chunk for chunk in lookup(missing)})
    return [{"n": c.marker, **chunk_view(chunks[c.chunk_id], collection)} for c in answer.citations
            if c.chunk_id in chunks]


def sources_text(answer: Answer) -> str:
    """The numbered source list appended to the content; empty when nothing is cited."""
    seen: dict[int, str] = {}
    for c in answer.citations:
        seen.setdefault(c.marker, location(_file_name(c.path), c.page, c.heading_path, c.page_end, c.figure))
    if not seen:
        return ""
    lines = "\n".join(f"[{n}] {where}" for n, where in sorted(seen.items()))
    return f"\n\n{SOURCES_HEADING.get(answer.language, SOURCES_HEADING['en'])}\n{lines}"


def ponder_extra(answer: Answer, collection: str, lookup: ChunkLookup | None = None) -> dict[str, Any]:
    return {"citations": citations_json(answer, collection, lookup), "collection": collection, "mode": answer.mode,
            "route": answer.route, "timings": answer.timings, "fallbacks": answer.fallbacks,
            "question": answer.question, "grounding": grounding_json(answer),
            "conflicts": conflicts_json(answer)}


def grounding_json(answer: Answer) -> dict[str, Any] | None:
    """The grounding verdict; flag and sentence offsets index ``answer.text`` (the content before the
    appended source list)."""
    return dataclasses.asdict(answer.grounding) if answer.grounding else None


def conflicts_json(answer: Answer) -> list[list[dict[str, Any]]]:
    """Each disagreement among the passages: its sides, each a passage number, value and sentence."""
    return [[dataclasses.asdict(side) for side in conflict.sides] for conflict in answer.conflicts]


def usage_json(answer: Answer) -> dict[str, Any]:
    u = answer.usage
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
            "total_tokens": u.prompt_tokens + u.completion_tokens,
            "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens}, "estimated": u.estimated}


def completion_json(answer: Answer, model: str, collection: str, completion_id: str,
                    lookup: ChunkLookup | None = None) -> dict[str, Any]:
    message = {"role": "assistant", "content": answer.text + sources_text(answer),
               "reasoning_content": answer.thinking or None}
    return {"id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": usage_json(answer), "ponder": ponder_extra(answer, collection, lookup)}


def chunk_json(completion_id: str, model: str, delta: dict[str, Any], finish: str | None = None,
               **extra: Any) -> dict[str, Any]:
    return {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def sse(data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n".encode("utf-8")


def error_json(message: str, code: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code}}


def _file_name(path: str) -> str:
    # Server paths stay on the server: clients see the file's name only.
    return path.replace("\\", "/").rsplit("/", 1)[-1]
