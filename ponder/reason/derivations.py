"""Numbers an answer computed rather than copied: "24 years, from 1987 to 2011", "1,496.5 − 1,202.9 =
293.6", "同比增长12.5%". The grounding check asks here before it flags a number no passage writes.

* **Working shown** (:func:`stated_working`): an arithmetic expression with its result in the answer
  or the thinking, "(7.2 − 5.1) / 5.1 ≈ 41%" or "3.5亿 + 2.1亿 = 5.6亿", is evaluated by the
  calculator (:mod:`ponder.reason.calculator`, never ``eval``), its operands looked up in the
  passages and the question, and its result recomputed exactly and compared at the stated result's
  own rounding. A wrong result is reported with what the working gives.
* **No working shown** (:class:`DerivationSearch`): a bounded search over the numbers of the passages
  and the question for one step — a sum, difference, product or ratio of two numbers, a percentage
  change or share, and the total or average of consecutive cells of a table row or column — that
  gives the answer's number at its rounding. Numbers are taken as written and with their scale
  ("3.5亿" is 3.5 and 350,000,000), so "in millions" tables and "$293.6 million" answers meet.

Example::

    search = DerivationSearch({1: "Sales were 1,496.5 in 2019 and 1,202.9 in 2018."}, question="")
    search.find(read_numbers("It grew by 293.6")[0]).expression   # '1,496.5 − 1,202.9'
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

import numpy as np

from ponder.reason.calculator import NUMBER, calculate, decimal_of
from ponder.reason.compute import question_shape
from ponder.reason.numbers import Number, content_words, read_numbers, widen
from ponder.reason.tables import amount, is_table_line, read_tables, years_in

MAX_NUMBERS = 200  # numbers of one unit searched pairwise (with their unscaled forms): 40,000 pairs a step
# The steps a question's shape (ponder.reason.compute) allows: "同比增长" is a change, never a share.
# "total" names items as often as it asks for a sum ("total debt"), so a sum question allows every step.
_ALL_STEPS = frozenset({"+", "−", "mean", "×", "/", "change", "share", "pp", "sum share", "total"})
_STEPS_FOR = {"percent_change": frozenset({"change", "pp", "−"}),
              "share": frozenset({"share", "sum share", "/"}),
              "average": frozenset({"mean", "+", "−", "/", "total"}),  # "average cost per employee" is a ratio
              "change": frozenset({"−", "change", "pp"}),
              "difference": frozenset({"−", "pp", "change"})}
_KEPT = 1 / 3  # a row is searched when it names the question's words at least this well (see _relevance)
MAX_SUMS = 2000  # related pairs whose sum is tried as a share of a third number
_CURRENCIES = {"dollar", "yuan", "euro", "pound"}
_MAGNITUDE = re.compile(r"亿|万|千|million|billion|thousand", re.IGNORECASE)
_OPERAND = rf"[\(（]*\s*[-−–]?\s*{NUMBER}\s*[\)）]*"
# "<expression> = <result>": numbers (with scale, %, currency), operators, parentheses; then = or ≈.
_WORKING = re.compile(rf"(?P<expression>{_OPERAND}(?:\s*[+\-−–*×x/÷]\s*{_OPERAND})+)\s*(?:=|≈|≒)\s*"
                      rf"(?P<result>[-−–]?\s*{NUMBER})", re.IGNORECASE)


@dataclass(frozen=True)
class Working:
    """An expression the answer (or its thinking) shows, with the result it states."""

    expression: str
    stated: Decimal
    computed: Decimal | None  # None: the expression does not evaluate (division by zero)
    operands: tuple[Decimal, ...]
    start: int  # of the stated result, in the text it was read from
    end: int
    expression_start: int = 0

    @property
    def correct(self) -> bool:
        return self.computed is not None and _same_at_rounding(self.computed, self.stated, _decimals(self.stated))


def stated_working(text: str) -> list[Working]:
    """Every "expression = result" in ``text`` that parses."""
    found = []
    for match in _WORKING.finditer(widen(text)):
        calculation = calculate(match.group("expression"))
        if not calculation.ok and calculation.refusal != "division by zero":
            continue  # not arithmetic: nothing was stated
        computed = calculation.value
        result = match.group("result")
        if not _MAGNITUDE.search(match.group("expression")):
            result = _MAGNITUDE.sub("", result)  # "2,400 + 800 = 3,200万元": the table's unit, not a scale applied
        stated = decimal_of(result, keep_percent=True)
        if stated is None:
            continue
        if match.group("result").rstrip().endswith(("%", "％")) and computed is not None:
            # "(7.2 − 5.1) / 5.1 ≈ 41%", "32.4% − 29.8% = 2.6%": a fraction stated in percent; but
            # "38.6 − 40 = -1.4%" subtracts percentages a table writes without the sign.
            as_written = computed
            computed *= 100
            if not _same_at_rounding(computed, stated, _decimals(stated)) and \
                    _same_at_rounding(as_written, stated, _decimals(stated)):
                computed = as_written
        found.append(Working(" ".join(match.group("expression").split()), stated, computed, calculation.operands,
                             match.start("result"), match.end("result"), match.start("expression")))
    return found


@dataclass(frozen=True)
class Found:
    """A one-step derivation of a number from the passages: ``expression`` as the operands are
    written, ``markers`` the passages they came from (0: the question)."""

    expression: str
    markers: tuple[int, ...]


class DerivationSearch:
    """The numbers of some passages (by citation number) and the question, ready to be searched for
    a one-step derivation of an answer's number. Units are kept: "10 days" is never 8 + 2 hours;
    sums, differences and averages take operands of the answer's unit (years between two dates
    take two years), ratios and percentage changes two of one unit. Two operands come from one
    table row, one table column or one line of text (or the question): over a whole report, any two
    numbers make almost any third by chance."""

    def __init__(self, passages: dict[int, str], question: str = ""):
        by_unit: dict[tuple[str | None, bool], dict[tuple[float, int, int, int], str]] = {}
        places = [_Place(0, -1, -1, question, question)] + [place for marker, text in passages.items()
                                                              for place in _places(text, marker)]
        # Rows and lines that share a word with the question hold its operands ("the change in Other"),
        # and a table's columns headed by a year hold them only for the years asked about.
        relevance = _relevance(question, places)
        if relevance:
            places = [place for place in places if place.row == -1 or relevance.get(place.row, 0) >= _KEPT]
        years, shape = years_in(question), question_shape(question)
        if len(years) == 1 and shape in ("change", "percent_change"):  # "the change in 2019": from 2018
            years |= {year - 1 for year in years}
        if years:
            places = [place for place in places if not place.years or place.years & years]
        for marker, row, column, text, *_ in places:
            # A table cell "(42.7)" is -42.7: the change from 20.9 is -63.6.
            sign = -1 if column >= 0 and (found := amount(text)) is not None and found.value < 0 else 1
            for number in read_numbers(text):
                if number.hedged or not any(ch.isdigit() for ch in number.text):  # "six": a count, not a figure
                    continue
                if _is_year(number):  # a date, not an amount: only ever subtracted from another year
                    by_unit.setdefault(("year-date", False), {}).setdefault(
                        (number.value, marker, row, column), number.text)
                    continue
                # A table writes its currency on the first and the total rows only: "$14,650" meets "416".
                units = {number.unit} | ({None} if column >= 0 and number.unit in _CURRENCIES else set())
                # As written and, when it has a scale, scaled: "3.5亿" meets "2.1亿" as 3.5 and 350,000,000.
                for unit in units:
                    for scaled, value in ((False, number.raw if number.raw is not None else number.value),
                                          (True, number.value)):
                        by_unit.setdefault((unit, scaled), {}).setdefault((sign * value, marker, row, column),
                                                                          ("−" if sign < 0 else "") + number.text)
        # Dates are related wherever they stand ("opened in 1987 … closed in 2011").
        self._groups = {key: _Operands(found, key[0] == "year-date") for key, found in by_unit.items()}
        if len(years) == 2 and shape in ("average", "sum") and max(years) - min(years) <= 10:
            years = set(range(min(years), max(years) + 1))  # "from 2017 to 2019": all three
        self._runs = [run for marker, text in passages.items() for run in _table_runs(text, marker, years)]
        self._steps = _STEPS_FOR.get(shape or "", _ALL_STEPS)
        # The cells of the rows that match the question best, in the years it asks about: the only
        # operands a small whole number may come from.
        best: dict[tuple[int, int], list[tuple[float, str]]] = {}
        for place in places:
            if place.column >= 0 and relevance.get(place.row) == 1.0 and (found := amount(place.text)) is not None:
                best.setdefault((place.marker, place.row), []).append((float(found.value), found.text))
        self._best_rows = [(marker, cells) for (marker, _), cells in best.items()]

    def find(self, number: Number) -> Found | None:
        """How the answer's ``number`` follows in one step, or None. A whole number under 10 is only
        searched for within the row that names what the question asks: a score's "6–4" is 7 − 3 of
        the real "6–3, 7–5", and so is almost any small count."""
        if abs(number.value) < 10 and number.value == int(number.value) and "." not in number.text:
            return self._within_best_row(number.value, number.unit == "percent")
        targets = {number.value} | ({number.raw} if number.raw is not None else set())
        digits = re.search(r"\.(\d+)", number.text)  # the answer's own rounding: "44.0%" is to one decimal
        tolerance = 0.5 * 10.0 ** -(len(digits.group(1)) if digits else 0) + 1e-9
        for target in targets:
            found = self._pairs(target, tolerance, number.unit, "." not in number.text) or (
                self._table(target, tolerance, number.unit == "percent") if number.unit in (None, "percent")
                else None)
            if found is not None:
                return found
        return None

    def _pairs(self, target: float, tolerance: float, unit: str | None, whole: bool) -> Found | None:
        # An answer that writes no unit may add or subtract numbers of any one unit ("$1,496.5").
        # One with a unit may use numbers of that unit or of none (a table's cells, its unit in the header).
        same = [group for (of, _), group in self._groups.items()
                if of != "year-date" and (unit is None or of in (unit, None))]
        if unit in ("year", None) and whole and ("year-date", False) in self._groups:  # 2011 − 1987 = 24 (years)
            same.append(self._groups[("year-date", False)])
        steps: list[tuple[str, _Operands]] = [(step, group) for group in same for step in ("+", "−", "mean")]
        ratios = [group for (of, _), group in self._groups.items() if of != "year-date"]
        if unit in (None, "percent"):  # a ratio or a change of two numbers of one unit, whichever
            steps += [(step, group) for group in ratios
                      for step in (("change", "share") if unit == "percent" else ("/", "×"))]
        if unit == "percent":  # percentage points are a difference of percentages, never of dollars
            steps += [("pp", group) for (of, _), group in self._groups.items() if of in ("percent", None)]
        for step, group in steps:
            found = group.pair(step, target, tolerance) if step in self._steps else None
            if found is not None:
                return found
        if unit in (None, "percent") and "sum share" in self._steps:  # two items together: (a + b) / total
            return next((found for group in ratios
                         if (found := group.share_of_sum(target, tolerance, percent=unit == "percent"))), None)
        return None

    def _within_best_row(self, target: float, percent: bool) -> Found | None:
        """The difference, percentage change or average of two cells of one best-matching row
        ("17 − 8 = 9"). Differences are always tried: a change or a difference is what a small
        whole number computed from one row most often is."""
        other = "change" if percent else "mean"
        steps = ["−"] + ([other] if other in self._steps else [])
        for marker, cells in self._best_rows:
            for (a, first), (b, second) in itertools.permutations(cells, 2):
                for step in steps:
                    if step == "−":
                        value, expression = a - b, f"{first} − {second}"
                    elif step == "mean":
                        value, expression = (a + b) / 2, f"({first} + {second}) / 2"
                    elif b:
                        value, expression = (a - b) / b * 100, f"({first} − {second}) / {second}"
                    else:
                        continue
                    if abs(abs(value) - abs(target)) <= 0.5:
                        return Found(expression, (marker,))
        return None

    def _table(self, target: float, tolerance: float, percent: bool) -> Found | None:
        """A total or average of consecutive cells; a percentage only of cells that are percentages
        (the average dividend yield of "1.7% | 1.5% | 1.5%")."""
        if "total" not in self._steps and "mean" not in self._steps:
            return None
        for marker, cells, percentages in self._runs:
            if percent and not percentages:
                continue
            for length in range(2, len(cells) + 1):
                for start in range(len(cells) - length + 1):
                    run = cells[start:start + length]
                    total = sum(value for value, _ in run)
                    written = " + ".join(text for _, text in run)
                    if "total" in self._steps and abs(abs(total) - abs(target)) <= tolerance:
                        return Found(written, (marker,))
                    if "mean" in self._steps and abs(abs(total / length) - abs(target)) <= tolerance:
                        return Found(f"({written}) / {length}", (marker,))
        return None


class _Operands:
    """Numbers of one unit: values, as written, the passage each came from, and its place (a table
    row and column, or a line: -1 is the question, which pairs with anything)."""

    def __init__(self, found: dict[tuple[float, int, int, int], str], related_anywhere: bool = False):
        items = list(found.items())[:MAX_NUMBERS]
        self.keys = [key for key, _ in items]
        self.values = np.array([value for (value, _, _, _), _ in items], dtype=np.float64)
        self.written = [text for _, text in items]
        rows = np.array([row for (_, _, row, _), _ in items])
        columns = np.array([column for (_, _, _, column), _ in items])
        anywhere = rows[:, None] == -1
        self.related = (rows[:, None] == rows[None, :]) | ((columns[:, None] == columns[None, :])
                                                           & (columns[:, None] >= 0)) | anywhere | anywhere.T
        self.related |= related_anywhere

    def pair(self, step: str, target: float, tolerance: float) -> Found | None:
        if len(self.values) < 2:
            return None
        a, b = self.values[:, None], self.values[None, :]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            values = {"+": a + b, "−": a - b, "mean": (a + b) / 2, "×": a * b, "/": a / b,
                      "change": (a - b) / b * 100, "share": a / b * 100, "pp": a - b}[step]
        signed = (np.abs(values - target) <= tolerance) & self.related
        close = signed | ((np.abs(values + target) <= tolerance) & self.related)  # a change stated without sign
        np.fill_diagonal(close, False)  # a number with itself gives 0, 1, its double: no derivation
        np.fill_diagonal(signed, False)
        hits = np.argwhere(signed) if signed.any() else np.argwhere(close)
        if not len(hits):
            return None
        i, j = hits[0]
        first, second = self.written[i], self.written[j]
        if second.startswith("−"):
            second = f"({second})"  # 20.9 − (−42.7)
        expression = {"change": f"({first} − {second}) / {second}", "share": f"{first} / {second}",
                      "pp": f"{first} − {second}", "mean": f"({first} + {second}) / 2"}.get(
            step, f"{first} {step} {second}")
        return Found(expression, tuple(dict.fromkeys((self.keys[i][1], self.keys[j][1]))))

    def share_of_sum(self, target: float, tolerance: float, percent: bool) -> Found | None:
        """(a + b) / c, as a percentage when ``percent``: a and b related (one row, column or line),
        c any number of the unit; at most :data:`MAX_SUMS` sums are tried."""
        first, second = np.nonzero(np.triu(self.related, k=1))
        if not len(first):
            return None
        first, second = first[:MAX_SUMS], second[:MAX_SUMS]
        sums = self.values[first] + self.values[second]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            shares = sums[:, None] / self.values[None, :] * (100 if percent else 1)
        close = np.abs(np.abs(shares) - abs(target)) <= tolerance
        close &= (np.arange(len(self.values))[None, :] != first[:, None]) & (
            np.arange(len(self.values))[None, :] != second[:, None])
        hits = np.argwhere(close)
        if not len(hits):
            return None
        pair, k = hits[0]
        i, j = first[pair], second[pair]
        return Found(f"({self.written[i]} + {self.written[j]}) / {self.written[k]}",
                     tuple(dict.fromkeys(self.keys[index][1] for index in (i, j, k))))


def _is_year(number: Number) -> bool:
    return number.unit in (None, "year") and 1900 <= number.value <= 2100 and re.fullmatch(r"\d{4}(年)?",
                                                                                            number.text) is not None


class _Place(NamedTuple):
    """Where numbers relate: a table cell (its row and column) or a line of text (column -2), with
    the whole line it stands in and, for a cell, the years its column's header names, its table
    (counted from 1; 0 for the passage's text) and whether its row is a total."""

    marker: int
    row: int
    column: int
    text: str
    line: str
    years: frozenset[int] = frozenset()
    block: int = 0
    total: bool = False


def _places(text: str, marker: int) -> list[_Place]:
    """The passage cut where its numbers relate. Rows and lines are numbered across passages by
    ``marker`` so that none are shared."""
    in_table = {row.line: (table, row) for table in read_tables(text) for row in table.rows}
    places: list[_Place] = []
    for line_number, line in enumerate(text.splitlines()):
        row_id = marker * 100_000 + line_number
        if line_number in in_table:
            table, row = in_table[line_number]
            places += [_Place(marker, row_id, marker * 1000 + column, cell, line, table.years.get(column, frozenset()),
                              table.number, row.total) for column, cell in enumerate(row.cells)]
        elif not is_table_line(line):  # a table's separator row holds nothing
            places.append(_Place(marker, row_id, -2, line, line))
    return places


def _relevance(question: str, places: list[_Place]) -> dict[int, float]:
    """How well each row or line names what the question asks about: the weight of the words it
    shares with the question over the best row's in its table (or the passage's text), where a word
    weighs less the more rows hold it ("Pre-contract costs" names its own row, not every row of
    costs). The total rows of a table that matched count as a third. Empty when no row shares a word."""
    asked = content_words(question)
    lines = {(place.marker, place.block, place.row): content_words(place.line) & asked
             for place in places if place.row != -1}
    holding = Counter(word for shared in lines.values() for word in shared)
    weight = {word: math.log(1 + len(lines) / count) for word, count in holding.items()}
    score = {key: sum(weight[word] for word in shared) for key, shared in lines.items()}
    best: dict[tuple[int, int], float] = {}
    for (marker, block, _), value in score.items():
        best[(marker, block)] = max(value, best.get((marker, block), 0.0))
    relevance = {row: value / best[(marker, block)] for (marker, block, row), value in score.items() if value > 0}
    tables = {(marker, block) for (marker, block, row) in lines if block and relevance.get(row, 0) >= _KEPT}
    for place in places:
        if place.total and (place.marker, place.block) in tables:
            relevance[place.row] = max(relevance.get(place.row, 0.0), _KEPT)
    return relevance


def _table_runs(text: str, marker: int, years: set[int]) -> list[tuple[int, list[tuple[float, str]], bool]]:
    """The amounts of each data row and column of a passage's tables, in order, and whether they
    are all percentages. A row of percentages keeps only the columns of the ``years`` asked about
    (a rate's average is over the years named); amounts keep every column: measured on TAT-QA dev,
    restricting them too lost more right totals than it caught wrong ones."""
    runs = []
    for table in read_tables(text):
        width = max(len(row.cells) for row in table.data) if table.data else 0
        asked = {column for column in range(1, width)
                 if not years or not table.years.get(column) or table.years[column] & years}
        grid = [[row.amounts.get(column) for column in range(1, width)] for row in table.data]
        for line, across in [(row, True) for row in grid] + [(list(column), False) for column in zip(*grid)]:
            cells = [(float(found.value), found.text, column) for column, found in enumerate(line, start=1)
                     if found is not None]
            percentages = all(text.rstrip().endswith(("%", "％")) for _, text, _ in cells)
            if percentages and across:
                cells = [cell for cell in cells if cell[2] in asked]
            if len(cells) >= 2:
                runs.append((marker, [(value, text) for value, text, _ in cells[:12]], percentages))
    return runs


def _same_at_rounding(computed: Decimal, stated: Decimal, decimals: int) -> bool:
    return abs(abs(computed) - abs(stated)) <= Decimal(5) * Decimal(10) ** -(decimals + 1) + Decimal("1e-9")


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent if value == value.to_integral_value() else \
        value.as_tuple().exponent
    return max(0, -int(exponent))
