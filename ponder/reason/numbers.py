"""Numbers as written in English and Chinese, read to values so that differently written equals match.

``8`` / ``eight`` / ``八``, ``1,200`` / ``1200`` / ``一千二百``, ``3.5万`` / ``35000``, ``12%`` /
``12 percent`` / ``百分之十二``, ``March 2024`` / ``2024年3月`` (a month name is the month's number),
full-width digits. Each number keeps the unit written after (or, for currencies, before) it, in a
canonical form shared by both languages (``hours`` / ``小时`` -> ``hour``), so "8 days" can be told
from "eight hours".

Example::

    [(n.value, n.unit) for n in read_numbers("烘焙八个小时，售价3.5万元")]   # [(8.0, 'hour'), (35000.0, 'yuan')]
    [(n.value, n.unit) for n in read_numbers("roasted for eight hours in March 2024")]
    # [(8.0, 'hour'), (3.0, 'month'), (2024.0, None)]
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from ponder.index.tokenize import tokenize

_UNITS = {
    "hour": ["hours", "hour", "hrs", "hr", "个小时", "小时", "钟头"],
    "minute": ["minutes", "minute", "mins", "min", "分钟"],
    "day": ["days", "day", "天", "日", "号"],
    "week": ["weeks", "week", "个星期", "星期", "周"],
    "month": ["months", "month", "个月", "月"],
    "year": ["years", "year", "yrs", "年"],
    "percent": ["percent", "per cent", "%", "％"],
    "dollar": ["us dollars", "dollars", "dollar", "usd", "美元"],
    "yuan": ["yuan", "rmb", "元", "块"],
    "euro": ["euros", "euro", "eur", "欧元"],
    "pound": ["pounds", "pound", "gbp", "英镑"],
    "km": ["kilometres", "kilometers", "kilometre", "kilometer", "km", "公里", "千米"],
    "metre": ["metres", "meters", "metre", "meter", "米"],
    "kg": ["kilograms", "kilogram", "kg", "千克", "公斤"],
    "tonne": ["tonnes", "tons", "tonne", "ton", "吨"],
    "times": ["倍", "times"],
}
_CURRENCY_SIGNS = {"$": "dollar", "US$": "dollar", "¥": "yuan", "￥": "yuan", "€": "euro", "£": "pound"}
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
           "千": 1e3, "万": 1e4, "十万": 1e5, "百万": 1e6, "千万": 1e7, "亿": 1e8}
_MONTHS = {name: number for number, names in enumerate([
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
    ("july", "jul"), ("august", "aug"), ("september", "sept", "sep"), ("october", "oct"),
    ("november", "nov"), ("december", "dec")], start=1) for name in names}
_WORD_VALUES = {word: value for value, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())} | {
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "hundred": 100, "dozen": 12}
_CHINESE_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
                   "八": 8, "九": 9}
_CHINESE_SMALL = {"十": 10, "百": 100, "千": 1000}
_CHINESE_LARGE = {"万": 10_000, "亿": 100_000_000}
CHINESE_NUMERALS = "零〇一二两三四五六七八九十百千万亿"
# A Chinese numeral in an answer counts only before a measure word: "一些", "统一", "第一" are not amounts.
_MEASURE_WORDS = "个位名次年月日号天岁元块米吨倍人家件条项种份所座只辆台分秒点周度层届场部篇本张"

_unit_words = sorted(((form, unit) for unit, forms in _UNITS.items() for form in forms), key=lambda p: -len(p[0]))
_UNIT = "|".join(re.escape(form) for form, _ in _unit_words)
_SCALE = "|".join(sorted(map(re.escape, _SCALES), key=len, reverse=True))
_ARABIC = re.compile(
    r"(?P<sign>US\$|\$|¥|￥|€|£)?\s?(?<![A-Za-z0-9.])(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\d])"
    rf"(?:\s?(?P<scale>{_SCALE})(?![a-z]))?(?:\s?(?P<unit>{_UNIT})(?![a-z]))?", re.IGNORECASE)
_NUMBER_WORDS = "|".join(sorted(_WORD_VALUES, key=len, reverse=True))
_WORDS = re.compile(rf"\b(?:(?:{_NUMBER_WORDS})(?:[\s-]+(?:and[\s-]+)?)?)+", re.IGNORECASE)
_WORD_TAIL = re.compile(rf"\s?(?P<scale>{_SCALE})?\s?(?P<unit>{_UNIT})?(?![a-z])", re.IGNORECASE)
_MONTH = re.compile(r"\b(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b\.?", re.IGNORECASE)
_CHINESE = re.compile(rf"(?P<percent>百分之)?(?P<number>[{CHINESE_NUMERALS}]+)(?P<unit>{_UNIT})?")
_PERCENT_PREFIX = "百分之"


@dataclass(frozen=True)
class Number:
    """A number read from text: ``value`` (the scale applied: "3.5万" is 35000), the unit written
    with it (canonical; None when none is), the span, and ``hedged`` for word forms that are
    often not amounts ("one", Chinese numerals without a measure word)."""

    value: float
    unit: str | None
    start: int
    end: int
    text: str
    hedged: bool = False
    raw: float | None = None  # the value before its scale ("3.5万": 3.5); None when there is none


def widen(text: str) -> str:
    """Full-width forms to ASCII, character by character, so offsets stay those of ``text``."""
    out = []
    for char in text:
        folded = unicodedata.normalize("NFKC", char)
        out.append(folded if len(folded) == 1 else char)
    return "".join(out)


def read_numbers(text: str) -> list[Number]:
    """Every number in ``text`` with its unit, in order of position."""
    return list(_read_numbers(text))


@lru_cache(maxsize=16384)  # the grounding check reads the same passages' lines for every answer citing them
def _read_numbers(text: str) -> tuple[Number, ...]:
    text = widen(text)
    found: list[Number] = []
    taken: list[tuple[int, int]] = []

    def add(number: Number) -> None:
        if not any(start < number.end and number.start < end for start, end in taken):
            found.append(number)
            taken.append((number.start, number.end))

    value: float | None  # a match's value (None: not a number after all)
    raw: float | None
    for match in _ARABIC.finditer(text):
        raw = float(match.group("number").replace(",", ""))
        scale = match.group("scale")
        value = raw * _SCALES.get(scale.lower() if scale else "", 1.0)
        unit = _unit(match.group("unit")) or _CURRENCY_SIGNS.get(match.group("sign") or "")
        start = match.start("sign") if match.group("sign") else match.start("number")
        add(Number(value, unit, start, match.end(), text[start:match.end()].strip(), raw=raw))
    for match in _CHINESE.finditer(text):
        value = chinese_numeral(match.group("number"))
        if value is None:
            continue
        unit = "percent" if match.group("percent") else _unit(match.group("unit"))
        following = text[match.end("number"):match.end("number") + 1]
        hedged = not (match.group("percent") or unit or (following and following in _MEASURE_WORDS)
                      or any(c in match.group("number") for c in "十百千万亿") and len(match.group("number")) > 1)
        add(Number(value, unit, match.start(), match.end(), match.group(), hedged))
    for match in _WORDS.finditer(text):
        words = match.group().strip(" -")
        raw = _english_words(words)
        if raw is None:
            continue
        tail = _WORD_TAIL.match(text, match.start() + len(match.group().rstrip(" -")))
        value = raw * (_SCALES.get((tail.group("scale") or "").lower(), 1.0) if tail else 1.0)
        unit = _unit(tail.group("unit")) if tail else None
        end = tail.end() if tail and (tail.group("unit") or tail.group("scale")) else match.start() + len(words)
        add(Number(value, unit, match.start(), end, text[match.start():end].strip(),
                   hedged=words.lower() in ("one", "zero") and not unit, raw=raw))
    for match in _MONTH.finditer(text):
        word = match.group(1)
        if word.lower() == "may" and not word[0].isupper():
            continue  # the verb
        add(Number(float(_MONTHS[word.lower()]), "month", match.start(), match.end(), match.group(),
                   hedged=len(word) <= 3 and word.lower() != "may"))
    return tuple(sorted(found, key=lambda n: n.start))


@lru_cache(maxsize=16384)
def content_words(text: str) -> frozenset[str]:
    """The words of ``text`` that carry content, numbers left out (they are compared by value)."""
    return frozenset(word for word in tokenize(text) if not any(c.isdigit() or c in CHINESE_NUMERALS for c in word))


def _unit(written: str | None) -> str | None:
    if not written:
        return None
    lowered = written.lower()
    return next((unit for form, unit in _unit_words if form == lowered), None)


def _english_words(words: str) -> float | None:
    """"twenty-one" -> 21, "three hundred" -> 300, "eight" -> 8."""
    total = current = 0
    seen = False
    for word in re.split(r"[\s-]+", words.lower()):
        if word == "and" or not word:
            continue
        value = _WORD_VALUES.get(word)
        if value is None:
            return None
        seen = True
        if word == "hundred":
            current = max(current, 1) * 100
        else:
            current += value
    total += current
    return float(total) if seen else None


def chinese_numeral(text: str) -> float | None:
    """"一千二百" -> 1200, "十二" -> 12, "两万" -> 20000, "二〇二四" -> 2024 (read digit by digit)."""
    if not text or all(c in "百千万亿" for c in text):
        return None
    if all(c in _CHINESE_DIGITS for c in text):
        if len(text) == 1:
            return float(_CHINESE_DIGITS[text])
        return float("".join(str(_CHINESE_DIGITS[c]) for c in text))
    total = section = digit = 0
    for char in text:
        if char in _CHINESE_DIGITS:
            digit = _CHINESE_DIGITS[char]
        elif char in _CHINESE_SMALL:
            section += (digit or 1) * _CHINESE_SMALL[char]
            digit = 0
        elif char in _CHINESE_LARGE:
            total = (total + section + digit) * _CHINESE_LARGE[char]
            section = digit = 0
        else:
            return None
    return float(total + section + digit)
