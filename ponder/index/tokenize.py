"""BM25 tokens for mixed Chinese and English text.

Chinese is segmented into words with jieba's search mode (which also emits the shorter words inside
long compounds, so 中华人民共和国 matches a query for 共和国); English words are lower-cased,
stop words dropped and stemmed with the Snowball stemmer; punctuation is dropped.

Example::

    >>> tokenize("The cats were running to 北京大学")
    ['cat', 'run', '北京', '大学', '北京大学']
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import jieba
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

jieba.setLogLevel(logging.WARNING)

# Function words and question words: they carry no topic, and questions are full of them.
ENGLISH_STOPWORDS = frozenset(STOPWORDS_EN) | {
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "do", "does", "did",
    "has", "have", "had", "were", "been", "i", "you", "he", "she", "we", "its", "his", "her", "our",
    "from", "about", "than", "can", "could", "would", "should", "there", "s",
}
CHINESE_STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 或 也 都 就 而 之 其 这 那 这个 那个 有 为 对 把 被 从 以 于 个 等 吗 呢 吧 啊 呀 "
    "我 你 他 她 它 我们 你们 他们 什么 哪 哪个 哪些 哪里 怎么 怎样 如何 多少 几 请问 是否 吗 还是 "
    "一个 没有 不 很 并 又 让 给 将 已 已经 着 过 向 到 所 该".split()
)
_WORD = re.compile(r"\w", re.UNICODE)
_LATIN = re.compile(r"^[a-z0-9\u00c0-\u024f_]+$")


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Tokens of ``text`` for BM25, in order (repeats kept: BM25 counts term frequency)."""
    stem = _stemmer().stemWord
    tokens: list[str] = []
    for piece in jieba.cut_for_search(text):
        word = piece.strip().lower()
        if not word or not _WORD.search(word):
            continue
        if _LATIN.match(word):
            if word in ENGLISH_STOPWORDS:
                continue
            word = stem(word)
        elif word in CHINESE_STOPWORDS:
            continue
        tokens.append(word)
    return tokens
