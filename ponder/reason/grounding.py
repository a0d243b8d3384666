"""Check an answer against its passages: numbers and names no passage supports are flagged, and
every sentence gets a support score. Any model, any mode; Chinese and English.

* **Numbers** (:mod:`ponder.reason.numbers`): amounts, dates, percentages, with their units, read
  to values, so "8" / "eight" / "八" and "1,200" / "1200" match. A number is supported when a
  passage has the same value with the same unit or none; "8 days" against "eight hours" is not.
* **Names** (the offline entity rules of :mod:`ponder.graph.extract`): a proper name is supported
  when a passage writes it (width, case and punctuation aside) or every word of it.
* **Sentences**: the share of a sentence's words found in its best passage sentence; for a
  sentence that overlap does not settle, the embedding similarity to the passage (from the
  stored vectors) may. Supported at :data:`SUPPORTED` or above.

Numbers and names the question itself contains are never flagged: the model did not invent them.
Sentences are scored against the passages the answer cites (all it was given when it cites none);
a number or name is flagged only when no passage it was given holds it. A refusal makes no claim
and is not checked.

Example::

    checker = GroundingChecker()
    grounding = checker.check("How long is the oolong roasted?", "It is roasted for 10 days [1].", numbered)
    grounding.verdict, [f.text for f in grounding.flags]   # ("unsupported", ["10 days"])
"""

from __future__ import annotations

import re
import time
from typing import Callable

import jieba

from ponder.graph.extract import NLPExtractor, entity_key
from ponder.reason.derivations import DerivationSearch, Working, stated_working
from ponder.reason.numbers import Number, content_words, read_numbers
from ponder.reason.prompts import Numbered
from ponder.text import CJK_CHARACTER, is_refusal
from ponder.types import Derivation, Flag, Grounding, SentenceSupport, Verdict
from ponder.untrusted import template_token_spans

Similarity = Callable[[str, list[str]], list[float]]  # (text, chunk ids) -> cosine to each chunk
_CONSTANTS = {float(n) for n in range(2, 13)} | {100.0}
SUPPORTED = 0.5  # a sentence with at least this support score counts as backed
# e5 puts unrelated text near 0.75 and paraphrases above 0.9: stretch that band over 0..1.
COSINE_FLOOR, COSINE_CEILING = 0.78, 0.92
_MARKERS = re.compile(r"[ \t]*[\[【]\s*\d+(?:\s*[,，、]\s*\d+)*\s*[\]】]")
_SENTENCE = re.compile(r"[^。！？!?；;\n]+?(?:[.!?;](?=\s|$)|[。！？；\n]|$)")


class GroundingChecker:
    """Checks answers against passages; ``similarity`` (optional) scores a sentence against chunks
    by embedding when word overlap alone does not back it."""

    def __init__(self, similarity: Similarity | None = None):
        self.similarity = similarity
        self._names = NLPExtractor()

    def check(self, question: str, text: str, numbered: Numbered, cited: list[int] | None = None,
              thinking: str = "") -> Grounding:
        started = time.perf_counter()
        if not text.strip() or not numbered or is_refusal(text):
            return Grounding("not checked", seconds=time.perf_counter() - started)
        given = dict(numbered)
        cited_numbers = [n for n in cited or [] if n in given]
        scored_against = {n: given[n].chunk.text for n in cited_numbers} or {n: hit.chunk.text for n, hit in numbered}
        everything = {n: hit.chunk.text for n, hit in numbered}
        plain = _MARKERS.sub(lambda m: " " * len(m.group()), text)  # same offsets, no "[1]" to read as a number
        plain = _without_lead_ins(plain)
        numbers = read_numbers(plain)
        number_flags, derivations, written = self._numbers(question, plain, thinking, numbers, everything)
        flags = number_flags + self._proper_names(question, plain, numbers, everything)
        sentences = self._sentences(text, plain, scored_against, {n: given[n].chunk.id for n in scored_against})
        backed = [s for s in sentences if s.supported and not any(s.start <= f.start < s.end for f in flags)]
        verdict: Verdict
        if not flags and all(s.supported for s in sentences):
            verdict = "supported"
        elif not backed:
            verdict = "unsupported"
        else:
            verdict = "partly supported"
        return Grounding(verdict, sorted(flags, key=lambda f: f.start), sentences,
                         "cited" if cited_numbers else "given", time.perf_counter() - started, derivations=derivations,
                         written_numbers=written)

    # -- numbers and names ------------------------------------------------------------------------
    def _numbers(self, question: str, answer: str, thinking: str, numbers: list[Number],
                 everything: dict[int, str]) -> tuple[list[Flag], list[Derivation], int]:
        """Flags for the numbers no passage writes and none derives; the derivations of the others
        (working the answer or its thinking shows, else a one-step search over the passages); how
        many a passage or the question writes."""
        asked = {value for n in read_numbers(question) for value in _values(n)}
        passages = [p for text in everything.values() for p in read_numbers(text)]
        workings = stated_working(answer)
        shown = [w for w in workings + stated_working(thinking) if w.correct and _operands_given(w, passages, asked)]
        search: DerivationSearch | None = None
        flags, derivations, written = [], [], 0
        for number in numbers:
            words_only = not any(c.isdigit() for c in number.text)
            if number.hedged or (number.unit is None and number.value < 10 and words_only):
                continue  # "两项", "the two": a count of what the answer itself lists
            if asked & _values(number) or any(_backs(p, number) for p in passages):
                written += 1
                continue
            if number.value in _CONSTANTS | {0.0, 1.0} and any(
                    w.expression_start <= number.start < w.start for w in workings):
                continue  # the "2" of "(a + b) / 2", the "100" of "× 100": arithmetic, not a claim
            stated = next((w for w in workings if w.start <= number.start < w.end), None)
            if stated is not None and stated.computed is not None and not stated.correct:
                why = f"stated {number.text}; the working {stated.expression} gives {_rounded(stated, number.text)}"
                flags.append(Flag(number.text, "number", number.start, number.end, why))
                continue
            working = next((w for w in shown if _states(w, number)), None)
            if working is not None:
                derivations.append(Derivation(number.text, working.expression, (), shown=True))
                continue
            search = search or DerivationSearch(everything, question)
            found = search.find(number)
            if found is not None:
                derivations.append(Derivation(number.text, found.expression, found.markers, shown=False))
                continue
            units = sorted({p.unit for p in passages if _values(p) & _values(number) and p.unit})
            why = (f"the passages give {number.text.split()[0]} only in {', '.join(units)}" if units
                   else "no passage gives this number")
            flags.append(Flag(number.text, "number", number.start, number.end, why))
        return flags, derivations, written

    def _proper_names(self, question: str, answer: str, numbers: list[Number],
                      everything: dict[int, str]) -> list[Flag]:
        asked = entity_key(question, qualifiers=True)
        # Running text keeps its parentheses: "Fidelity Investments (FMR)", "（英语：Bohemian Rhapsody）".
        all_text = entity_key(" ".join(everything.values()), qualifiers=True)
        flags = []
        for key, name in self._names.entities(answer, proper_only=True):
            if key in asked or _names_in(key, all_text, asked):
                continue
            start = answer.find(name)
            inside_number = any(n.start <= start < n.end for n in numbers)  # "US" of "6 billion US dollars"
            if start >= 0 and not inside_number:
                flags.append(Flag(name, "name", start, start + len(name), "no passage names it"))
        return flags

    # -- sentences --------------------------------------------------------------------------------
    def _sentences(self, answer: str, plain: str, passages: dict[int, str],
                   chunk_ids: dict[int, str]) -> list[SentenceSupport]:
        passage_sentences = []
        for n, text in passages.items():
            units = [content_words(s) for s in split_sentences(text)[1]]
            # A sentence of the answer often joins two neighbouring sentences of a passage.
            passage_sentences += [(n, words) for words in units + [a | b for a, b in zip(units, units[1:])]]
        found = []
        for start, end in split_sentences(plain)[0]:
            words = content_words(plain[start:end])
            if not words:
                continue
            score, best = max(((len(words & tokens) / len(words), n) for n, tokens in passage_sentences),
                              default=(0.0, None))
            if score < SUPPORTED and self.similarity is not None:
                ids = list(chunk_ids.values())
                cosines = self.similarity(plain[start:end], ids)
                if cosines:
                    cosine, n = max(zip(cosines, chunk_ids))
                    stretched = min(max((cosine - COSINE_FLOOR) / (COSINE_CEILING - COSINE_FLOOR), 0.0), 1.0)
                    if stretched > score:
                        score, best = stretched, n
            text = answer[start:end].strip()  # as the answer writes it, citations included
            offset = answer.index(text, start)
            found.append(SentenceSupport(text, offset, offset + len(text), round(score, 3), best, score >= SUPPORTED))
        return found


def split_sentences(text: str) -> tuple[list[tuple[int, int]], list[str]]:
    """The sentences of ``text``: their (start, end) offsets and their texts, blank ones dropped.
    A chat-template token ("<|im_end|>", "<｜User｜>") ends a sentence and belongs to none."""
    for start, end in template_token_spans(text):
        text = text[:start] + "\n" * (end - start) + text[end:]  # same length: the offsets stay
    spans = [(m.start(), m.end()) for m in _SENTENCE.finditer(text) if m.group().strip(" \t\n.;。；")]
    return spans, [text[start:end].strip() for start, end in spans]


def _without_lead_ins(text: str) -> str:
    """``text`` with its lead-in lines ("Quoted from the documents' main topics:") blanked, offsets
    kept: a line that ends in a colon introduces what follows and claims nothing itself."""
    return re.sub(r"(?m)^[^\n]*[:：][ \t]*$", lambda match: " " * len(match.group()), text)


def _states(working: Working, number: Number) -> bool:
    """The working's result is the answer's number at the answer's rounding ("24.41%" of 24.4077)."""
    digits = re.search(r"\.(\d+)", number.text)
    tolerance = 0.5 * 10.0 ** -(len(digits.group(1)) if digits else 0) + 1e-9
    stated = abs(float(working.stated))
    return any(abs(stated - value) <= tolerance for value in _values(number))


def _operands_given(working: Working, passages: list[Number], asked: set[float]) -> bool:
    """Every operand of the working is a number of the passages or the question, or a constant of
    arithmetic: 100 for a percentage, a count of items averaged (2 … 12)."""
    known = asked | _CONSTANTS | {value for p in passages for value in _values(p)} | {
        round(p.value / 100, 6) for p in passages if p.unit == "percent"}
    return all(round(abs(float(operand)), 6) in known for operand in working.operands)


def _rounded(working: Working, stated: str) -> str:
    """What the working gives, to the stated result's decimals or two, whichever is more."""
    decimals = max(2, -int(working.stated.as_tuple().exponent))
    text = f"{working.computed:.{decimals}f}".rstrip("0").rstrip(".")
    return text + ("%" if stated.rstrip().endswith(("%", "％")) else "")


def _values(number: Number) -> set[float]:
    return {round(number.value, 6)} | ({round(number.raw, 6)} if number.raw is not None else set())


def _backs(passage: Number, answer: Number) -> bool:
    return bool(_values(passage) & _values(answer)) and (passage.unit in (None, answer.unit) or answer.unit is None)


def _names_in(key: str, text: str, asked: str) -> bool:
    """The name is written in ``text``, or every word of it is (in ``text`` or the question):
    "Djokovic Novak"; 悉尼奥运会 from 悉尼 and 奥运会."""
    if key in text:
        return True
    if CJK_CHARACTER.search(key):  # covered by shorter words found in the passages or the question
        covered: set[int] = set()
        for part in {w for w in jieba.lcut_for_search(key) if 2 <= len(w) < len(key)}:
            if part in text or part in asked:
                start = key.find(part)
                covered.update(range(start, start + len(part)))
        return len(covered) == len(key)
    words = key.split()
    return len(words) > 1 and all(re.search(rf"\b{re.escape(w)}\b", text) for w in words)

