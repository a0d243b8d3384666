"""Numeric answers without a model: the common shapes of a KPI question — change, percentage
change, average, total, ratio / share, difference between two items — in English and Chinese,
with the operands chosen by rules from the passages' table cells (row label and column header) and
sentences, and the result from the calculator (:mod:`ponder.reason.calculator`).

How operands are chosen:

* **Shape** from the question's words: "percentage change" / "增长率" / "同比" before "change" /
  "变化", "average" / "平均", "total" / "合计", "as a percentage of" / "占比", "ratio", "difference".
* **Columns** by the years the question names ("from 2018 to 2019", "2023年比2022年"), matched
  to the years in a table's header rows; a change runs from the earlier year to the later.
* **Rows** by their label: the row whose label shares most words with the question, the fewest
  other words breaking ties ("Other" before "Other comprehensive income" for "change in Other").
  Two-item shapes ("A as a percentage of B", "difference between A and B") split the question
  and match each part to a row.
* **Sentences** when no table row fits: clauses that name the item and one year and hold one
  amount ("2023年营业收入为4.5亿元").

Where no shape fits, or no operand is found for it, there is no computed answer (the caller
quotes the passages as before). The answer states the result with its working, so the
grounding check recomputes it.

Example::

    computed = compute("What was the change in Other from 2018 to 2019?", numbered)
    computed.expression, computed.result   # ('44.1 − 56.7', Decimal('-12.6'))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from ponder.reason.calculator import calculate, written
from ponder.reason.numbers import content_words, read_numbers, widen
from ponder.reason.prompts import LANGUAGES, Numbered
from ponder.reason.tables import read_tables

# (shape, pattern): the first that matches the question decides.
SHAPES = [
    ("percent_change", r"percent(?:age)? (?:change|increase|decrease|growth|decline)|% change|growth rate|"
                       r"rate of (?:change|increase|growth)|增长率|增速|增幅|降幅|变化率|变动率|同比|环比|"
                       r"增长了?百分之"),
    ("change", r"\b(?:change|increase|decrease) in (?:the )?(?:percentage|proportion|share|ratio)\b"),  # points
    ("share", r"as a percentage of|percentage of|percentage constitution|proportion|what percent|share of|"
              r"占比|占.{1,12}(?:比例|比重|百分)"),
    ("ratio", r"\bratio\b|比率|之比"),
    ("change", r"\b(?:change|increase|decrease) in (?:the )?average\b"),  # of an item named "average …"
    ("average", r"\baverage\b|\bmean\b|平均"),
    ("difference", r"difference (?:(?:in|of) [^?？]{1,60}? )?between|相差|差额|差距|差值|高出|多出"),
    ("change", r"\bchange\b|\bincrease\b|\bdecrease\b|\bgrowth\b|\bdecline\b|变化|变动|增长|增加|下降|减少"),
    ("sum", r"\btotal\b|\bsum\b|\bcombined\b|合计|总计|总共|一共|总和|共计"),
]
_SHAPE_WORDS = content_words("percentage percent change increase decrease growth decline rate average mean "
                             "sum combined ratio proportion share difference between value amount year years "
                             "from to in of for the what was is how much company's 增长率 增速 同比 环比 变化 "
                             "增长 增加 下降 减少 平均 合计 总计 总共 一共 占比 比例 比率 相差 差额 多少 年")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_SPLIT_TWO = re.compile(r"\bbetween (?P<a>.+?) and (?P<b>.+?)(?:\?|$| in | for | at | as of )|"
                        r"\bratio of (?P<c>.+?) (?:to|over|and) (?P<d>.+?)(?:\?|$| in | for | at | as of )|"
                        r"(?:what is |what was |is )?(?:the )?(?P<e>.+?) as a (?:percentage|proportion|share) of "
                        r"(?P<f>.+?)(?:\?|$| in | for | at | as of )|"
                        r"(?P<g>[^，,。？?]+?)占(?P<h>[^，,。？?]+?)(?:的)?(?:比例|比重|百分比|多少)", re.IGNORECASE)
# Questions whose answer is not a computed number, whatever figures they mention.
_NOT_A_NUMBER = re.compile(r"^\W*(?:why|explain)\b|\bin which (?:year|years)\b|\bwhat (?:caused|led to|drove)\b"
                           r"|\b(?:composed|consists?) of\b"
                           r"|\b(?:which|what) (?:year|years|month|date)s?\b|\bwhat (?:was|is|were) the reason"
                           r"|为什么|为何|原因|哪一?年|哪个年度|哪些年", re.IGNORECASE)
_SCALES = r"(?:亿|万|千|million|billion|thousand)"
_RANGE = re.compile(r"((?:19|20)\d\d)\s*(?:-|–|to|through|至|到)\s*((?:19|20)\d\d)")
_CLAUSE_END = re.compile(r"[，,；;。!?！？\n]|\.(?=\s|$)")  # not the point of "4.5亿元"


@dataclass(frozen=True)
class Operand:
    text: str  # as the passage writes it ("$1,452.4")
    value: Decimal
    marker: int  # the passage's citation number
    label: str  # the row it stands in ("Fixed Price"); empty for an amount read from a sentence
    year: int | None = None  # the year its column or clause names


@dataclass(frozen=True)
class Computed:
    shape: str
    expression: str  # over the operands as written, without currency signs: "1,452.4 − 1,146.2"
    result: Decimal
    percent: bool  # the result is a percentage
    operands: tuple[Operand, ...]

    @property
    def markers(self) -> list[int]:
        return list(dict.fromkeys(operand.marker for operand in self.operands))

    def result_text(self) -> str:
        """The result at two decimals, in the operands' own scale when they share one ("0.5亿")."""
        if self.percent:
            return written(self.result, 2) + "%"
        scales = {found.group().strip() if (found := re.search(_SCALES, o.text, re.IGNORECASE)) else ""
                  for o in self.operands}
        scale = scales.pop() if len(scales) == 1 else ""
        unit = calculate(f"1{scale}").value if scale and self.shape in ("change", "sum", "average", "difference") \
            else None
        if unit is not None:
            return written(self.result / unit, 2) + scale
        return written(self.result, 2)


def computed_answer(computed: Computed, language: str) -> str:
    """The answer's sentence: what was computed, the working and the result, cited —
    "The change in Other from 2018 to 2019 is 44.1 − 56.7 = -12.6 [1]." """
    words = LANGUAGES[language]
    first, second = computed.operands[0], computed.operands[1]
    years = sorted({o.year for o in computed.operands if o.year})
    span = words.computed_span.format(earlier=years[0], later=years[-1]) if len(years) >= 2 else ""
    what = words.computed_what[computed.shape].format(a=first.label or words.computed_amount,
                                                       b=second.label or words.computed_amount, span=span)
    cites = "".join(f"[{marker}]" for marker in computed.markers)
    return words.computed.format(what=what, working=computed.expression, result=computed.result_text(),
                                 cites=cites)


def question_shape(question: str) -> str | None:
    """The numeric shape a question asks for, or None."""
    text = widen(question)
    return next((shape for shape, pattern in SHAPES if re.search(pattern, text, re.IGNORECASE)), None)


def compute(question: str, numbered: Numbered) -> Computed | None:
    """The computed answer to a numeric ``question`` from the ``numbered`` passages, or None."""
    shape = question_shape(question)
    if shape is None or _NOT_A_NUMBER.search(widen(question)):
        return None
    years = [int(year) for year in dict.fromkeys(_YEAR.findall(question))]
    span = _RANGE.search(question)
    if span and shape in ("average", "sum") and 0 < int(span.group(2)) - int(span.group(1)) <= 10:
        years = list(range(int(span.group(1)), int(span.group(2)) + 1))  # "from 2017 to 2019": all three
    tables = [table for n, hit in numbered for table in _tables(hit.chunk.text, n)]
    if shape in ("share", "ratio", "difference") and not (shape == "difference" and len(years) >= 2):
        parts = _two_items(question)
        if parts is None:
            return None
        first, second = (_cell(tables, part, years) for part in parts)
        if first is None or second is None or first == second:
            return None
        if shape == "difference":
            return _computed(shape, f"{_term(first)} − {_term(second)}", False, (first, second))
        return _computed(shape, f"{_term(first)} / {_term(second)}", shape == "share", (first, second))
    if len(years) == 1 and shape in ("change", "percent_change"):
        years.append(years[0] - 1)  # "the change in 2019": from 2018
    every = 12 if shape in ("average", "sum") else 2
    series = _series(tables, question, years, every) or _sentences(numbered, question, years)
    if series is None or len(series) < 2:
        return None
    if shape == "average":
        terms = " + ".join(_term(o) for o in series)
        return _computed(shape, f"({terms}) / {len(series)}", False, tuple(series))
    if shape == "sum":
        return _computed(shape, " + ".join(_term(o) for o in series), False, tuple(series))
    later, earlier = series[0], series[1]  # later year first
    if shape == "percent_change":
        return _computed(shape, f"({_term(later)} − {_term(earlier)}) / {_term(earlier)}", True,
                         (later, earlier))
    # "the difference between 2019 and 2018" of one item is its change
    return _computed("change", f"{_term(later)} − {_term(earlier)}", False, (later, earlier))


def _computed(shape: str, expression: str, percent: bool, operands: tuple[Operand, ...]) -> Computed | None:
    calculation = calculate(expression)
    if not calculation.ok or calculation.value is None:
        return None
    result = calculation.value * 100 if percent else calculation.value
    return Computed(shape, expression, result, percent, operands)


def _term(operand: Operand) -> str:
    """The operand for the calculator: digits and any scale ("4.5亿"), no currency or unit; a
    negative in parentheses."""
    found = re.search(rf"\d[\d,]*(?:\.\d+)?(?:\s*{_SCALES})?", widen(operand.text), re.IGNORECASE)
    digits = found.group() if found else str(abs(operand.value))
    return f"(-{digits})" if operand.value < 0 else digits


# -- tables -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Row:
    label: str  # "Total" for a total row without one
    cells: dict[int, tuple[str, Decimal]]  # column -> (as written, value)
    section: str = ""  # the label-only row heading it ("Net Income per Share:" over "Basic")


@dataclass(frozen=True)
class _Table:
    marker: int
    years: dict[int, int]  # column -> the one year its header names
    rows: tuple[_Row, ...]


def _tables(text: str, marker: int) -> list[_Table]:
    """The passage's tables (:mod:`ponder.reason.tables`) as labelled rows of amounts."""
    found = []
    for table in read_tables(text):
        years = {column: next(iter(named)) for column, named in table.years.items() if len(named) == 1}
        rows = tuple(_Row(row.label or "Total", {column: (a.text, a.value) for column, a in row.amounts.items()},
                          row.section) for row in table.data if row.amounts and (row.label or row.total))
        if rows:
            found.append(_Table(marker, years, rows))
    return found


def _label_score(row: _Row, words: frozenset[str]) -> tuple[int, float]:
    """How well a row matches the question's words: words its label and section share with them,
    then the share of the label's words that the question has."""
    label_words = content_words(row.label)
    shared = len(label_words & words)
    return len((label_words | content_words(row.section)) & words), shared / len(label_words) if label_words else 0.0


def _best_row(tables: list[_Table], words: frozenset[str], need: int) -> tuple[_Table, _Row] | None:
    """The row whose label best matches ``words`` among rows with at least ``need`` numbers in
    year columns (or any columns, for a table without years)."""
    best, best_score = None, (0, 0.0)
    for table in tables:
        for row in table.rows:
            usable = [c for c in row.cells if c in table.years] if table.years else list(row.cells)
            score = _label_score(row, words)
            if len(usable) >= need and score[0] and score > best_score:
                best, best_score = (table, row), score
    return best


def _series(tables: list[_Table], question: str, years: list[int], every: int = 2) -> list[Operand] | None:
    """One item's values over the years asked (later year first), or over its row's year columns:
    the latest ``every`` of them."""
    found = _best_row(tables, content_words(question) - _SHAPE_WORDS, need=max(2, len(years)))
    if found is None:
        return None
    table, row = found
    if years:
        matched = [next((c for c, y in table.years.items() if y == year and c in row.cells), None) for year in years]
        columns = [c for c in matched if c is not None]
        if len(columns) < len(years):
            return None
        ordered = sorted(zip(years, columns), reverse=True)
    elif table.years:  # every year for an average or a total, the latest two for a change
        ordered = sorted(((y, c) for c, y in table.years.items() if c in row.cells), reverse=True)[:every]
    else:
        ordered = [(0, c) for c in list(row.cells)[:2]]
    return [Operand(row.cells[c][0], row.cells[c][1], table.marker, row.label, y or None) for y, c in ordered]


def _cell(tables: list[_Table], part: str, years: list[int]) -> Operand | None:
    """The value of one named item, in the year asked (or the table's latest)."""
    found = _best_row(tables, content_words(part) - _SHAPE_WORDS, need=1)
    if found is None:
        return None
    table, row = found
    year = years[0] if years else max((y for c, y in table.years.items() if c in row.cells), default=None)
    column = next((c for c, y in table.years.items() if y == year and c in row.cells), None) if table.years else \
        next(iter(row.cells))
    if column is None:
        return None
    return Operand(row.cells[column][0], row.cells[column][1], table.marker, row.label, year)


def _two_items(question: str) -> tuple[str, str] | None:
    match = _SPLIT_TWO.search(widen(question))
    if match is None:
        return None
    groups = [g for g in match.groups() if g]
    return (groups[0], groups[1]) if len(groups) == 2 else None


# -- sentences --------------------------------------------------------------------------------------
def _sentences(numbered: Numbered, question: str, years: list[int]) -> list[Operand] | None:
    """The item's amounts for the years asked, from clauses that name the item and one year and
    hold one amount: "2023年营业收入为4.5亿元，2022年营业收入为4亿元"."""
    words = content_words(question) - _SHAPE_WORDS
    if len(years) < 2 or not words:
        return None
    by_year: dict[int, Operand] = {}
    for n, hit in numbered:
        for clause in _CLAUSE_END.split(hit.chunk.text):
            named = set(_YEAR.findall(clause))
            amounts = [number for number in read_numbers(clause) if not number.hedged and number.unit != "year"
                       and not _YEAR.fullmatch(number.text.rstrip("年"))]
            if len(named) != 1 or len(amounts) != 1 or not words & content_words(clause):
                continue
            year = int(named.pop())
            amount = amounts[0]
            value = Decimal(str(amount.value))
            if year in years and year not in by_year:
                by_year[year] = Operand(amount.text, value, n, "", year)
    if not all(year in by_year for year in years):
        return None
    return [by_year[year] for year in sorted(years, reverse=True)]
