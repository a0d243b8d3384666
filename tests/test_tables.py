"""Markdown tables read as financial reports write them: header years per column, stacked tables
apart, signed amounts, total rows; in English and Chinese."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ponder.reason.tables import amount, read_tables

STACKED = ("| (In millions) | Dec 28, 2019 | Dec 29, 2018 |\n|---|---|---|\n| Data Center Group | $7,155 | $5,424 |\n"
           "| Total | $26,276 | $24,513 |\n| (In millions) | Dec 29, 2018 | Dec 30, 2017 |\n"
           "| Data Center Group | $5,424 | $5,421 |")
SPANNING = ("|  |  | As of December 31, 2018 |  |\n|---|---|---|---|\n"
            "|  | Amortized Cost | Unrealized Gains | Fair Value |\n"
            "| U.S. government obligations | 97,223 | 416 | 91,203 |\n| Total | $171,021 | $14,650 | $179,000 |")
CHINESE = ("| 项目 | 2023年 | 2022年 |\n|---|---|---|\n| 营业收入 | 4.5亿 | 4亿 |\n| 研发投入 | 3,500万 | (2,100万) |\n"
           "|  | 8亿 | 6.1亿 |")


@pytest.mark.parametrize("cell, value", [
    ("$ 1,452.4", "1452.4"), ("(293.6)", "-293.6"), ("$(62)", "-62"), ("-5", "-5"), ("−0.4", "-0.4"),
    ("12.5%", "12.5"), ("4.5亿", "4.5"), ("（2,100万）", "-2100"),
])
def test_a_cell_holding_an_amount_is_read_with_its_sign(cell: str, value: str) -> None:
    found = amount(cell)
    assert found is not None and found.value == Decimal(value) and found.text == cell


@pytest.mark.parametrize("cell", ["2018 (4)", "US$’000", "—", "Net sales", "", "Dec 29, 2018 and 2017"])
def test_a_cell_that_is_not_just_an_amount_is_none(cell: str) -> None:
    assert amount(cell) is None


def test_a_table_stacked_under_another_has_its_own_years() -> None:
    first, second = read_tables(STACKED)
    assert first.years == {1: frozenset({2019}), 2: frozenset({2018})}
    assert second.years == {1: frozenset({2018}), 2: frozenset({2017})}
    assert [row.label for row in second.data] == ["Data Center Group"] and second.data[0].amounts[2].value == 5421


def test_a_title_naming_one_year_stands_for_every_column() -> None:
    [table] = read_tables(SPANNING)
    assert table.years == {column: frozenset({2018}) for column in (1, 2, 3)}
    assert [row.label for row in table.data] == ["U.S. government obligations", "Total"]
    assert [row.total for row in table.data] == [False, True]


def test_chinese_tables_read_years_scales_and_an_unlabelled_total() -> None:
    [table] = read_tables(CHINESE)
    assert table.years == {1: frozenset({2023}), 2: frozenset({2022})}
    revenue, research, total = table.data
    assert revenue.amounts[1].value == Decimal("4.5") and research.amounts[2].value == Decimal("-2100")
    assert total.total and not revenue.total and total.amounts[2].text == "6.1亿"


def test_a_row_that_is_only_a_label_heads_the_rows_under_it() -> None:
    [table] = read_tables("| | 2019 | 2018 |\n|---|---|---|\n| Net income | 1,169 | 116 |\n"
                          "| Net Income per Share: | | |\n| Basic | 4.60 | 0.43 |\n| Diluted | 4.51 | 0.42 |")
    assert [(row.label, row.section) for row in table.data] == [
        ("Net income", ""), ("Basic", "Net Income per Share:"), ("Diluted", "Net Income per Share:")]


def test_text_between_tables_separates_them_and_is_not_read() -> None:
    tables = read_tables("| a | 2019 |\n|---|---|\n| Sales | 5 |\n\nSales grew 5% in 2019.\n| b | 2018 |\n| Cost | 3 |")
    assert [[row.label for row in table.data] for table in tables] == [["Sales"], ["Cost"]]
    assert [table.rows[0].line for table in tables] == [0, 5]
