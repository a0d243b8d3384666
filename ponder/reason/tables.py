"""The Markdown tables of a passage, read the way financial reports write them, once for the
derivation search (:mod:`ponder.reason.derivations`) and the calculator's rules
(:mod:`ponder.reason.compute`).

* Header rows ("| | 2019 | 2018 |", "| | As of December 31, 2018 | | |") give each column the years
  it stands for; a title naming one year over empty cells stands for every column.
* A header row with years after data rows starts a new table: reports stack a year's table under
  the other's.
* A cell holding just an amount is read with its sign: "(42.7)" and "-42.7" are negative; "$"
  is written on the first and the total rows only.
* A total row is named so ("Total", "合计") or has amounts and no label ("|  | $8,455 |").
* A row that is only a label ("Net Income per Share:") heads the rows under it ("Basic").

Example::

    [table] = read_tables("| | 2019 | 2018 |\\n|---|---|---|\\n| Sales | $1,496.5 | (1,202.9) |")
    table.years                        # {1: frozenset({2019}), 2: frozenset({2018})}
    table.data[0].amounts[2].value     # Decimal('-1202.9')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from ponder.reason.numbers import content_words, read_numbers, widen

_TOTAL = re.compile(r"\btotal\b|合计|总计|总额|小计", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_DIGITS = re.compile(r"\d[\d,]*(?:\.\d+)?")


@dataclass(frozen=True)
class Amount:
    """A cell's amount: ``value`` as written (unscaled: "4.5亿" is 4.5) with its sign."""

    text: str  # the cell as written
    value: Decimal


@dataclass(frozen=True)
class Row:
    line: int  # its line in the passage, from 0
    text: str  # the whole line
    cells: tuple[str, ...]
    header: bool  # nothing but years, words or empty cells after the label
    amounts: dict[int, Amount] = field(default_factory=dict)  # column (from 1) -> amount
    section: str = ""  # the label of the row above that heads it ("Net Income per Share:" over "Basic")

    @property
    def label(self) -> str:
        return self.cells[0] if self.cells else ""

    @property
    def total(self) -> bool:
        return bool(_TOTAL.search(self.text)) or (bool(self.amounts) and not content_words(self.label))


@dataclass(frozen=True)
class Table:
    number: int  # counted from 1 in its passage
    years: dict[int, frozenset[int]]  # column -> the years its header names
    rows: tuple[Row, ...]  # header rows first

    @property
    def data(self) -> list[Row]:
        return [row for row in self.rows if not row.header]


def is_table_line(line: str) -> bool:
    return line.lstrip().startswith("|")


def years_in(text: str) -> set[int]:
    return {int(year) for year in _YEAR.findall(text)}


def amount(cell: str) -> Amount | None:
    """The amount a cell holds and nothing else ("$ 1,452.4", "(293.6)", "-5", "12.5%", "4.5亿"),
    or None ("2018 (4)", "US$'000", "—", "Net sales")."""
    compact = widen(cell).replace(" ", "")
    negative = False
    bracketed = re.fullmatch(r"(US\$|\$|¥|€|£)?\((.+)\)", compact)
    if bracketed:
        negative, compact = True, (bracketed.group(1) or "") + bracketed.group(2)
    signed = re.fullmatch(r"(US\$|\$|¥|€|£)?[-−–](.+)", compact)
    if signed:
        negative, compact = not negative, (signed.group(1) or "") + signed.group(2)
    numbers = read_numbers(compact)
    if len(numbers) != 1 or numbers[0].hedged or (numbers[0].start, numbers[0].end) != (0, len(compact)) or \
            not (digits := _DIGITS.search(numbers[0].text)):
        return None  # "US$'000" names the table's unit; "12 (4)" has a footnote
    value = Decimal(digits.group().replace(",", ""))
    return Amount(cell, -value if negative else value)


@lru_cache(maxsize=4096)  # the grounding check reads the same passages for every answer citing them
def read_tables(text: str) -> tuple[Table, ...]:
    """Every Markdown table of ``text``, stacked tables apart."""
    tables: list[Table] = []
    rows: list[Row] = []
    years: dict[int, frozenset[int]] = {}
    section = ""

    def close() -> None:
        if rows:
            tables.append(Table(len(tables) + 1, dict(years), tuple(rows)))
        rows.clear()
        years.clear()

    for number, line in enumerate(text.splitlines()):
        if not is_table_line(line):
            close()
            continue
        if set(line) <= set("|-: \t"):
            continue  # the separator under the header
        cells = tuple(cell.strip() for cell in line.strip().strip("|").split("|"))
        header = all(years_in(cell) or not any(ch.isdigit() for ch in cell) for cell in cells[1:])
        named = {column: frozenset(years_in(cell)) for column, cell in enumerate(cells) if column and years_in(cell)}
        if header and named and any(row.amounts for row in rows):
            close()  # a year's table stacked under another's
        if header and named:
            if len(named) == 1 and all(not cell for column, cell in enumerate(cells) if column and column not in named):
                named = dict.fromkeys(range(1, len(cells)), next(iter(named.values())))  # a title over every column
            for column, found in named.items():
                years[column] = years.get(column, frozenset()) | found
        amounts = {} if header else {column: value for column, cell in enumerate(cells)
                                     if column and (value := amount(cell))}
        if named:
            section = ""
        rows.append(Row(number, line, cells, header, amounts, section))
        if cells[0] and not any(cells[1:]):
            section = cells[0]  # a row that is only a label heads the rows under it
    close()
    return tuple(tables)
