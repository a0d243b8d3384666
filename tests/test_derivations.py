"""Numbers an answer computed: stated working is recomputed exactly, and a number no passage writes
is searched for a one-step derivation before it is flagged; English and Chinese."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from ponder.reason.derivations import DerivationSearch, stated_working
from ponder.reason.grounding import GroundingChecker
from ponder.reason.numbers import read_numbers
from tests.conftest import numbered_passages

FESTIVAL = ("The harbour festival was first held in 1987.", "The last harbour festival took place in 2011.")
SALES = ("| Contract | 2019 | 2018 |\n|---|---|---|\n| Fixed price | $1,452.4 | $1,146.2 |\n"
         "| Other | 44.1 | 56.7 |\n| Total sales | $1,496.5 | $1,202.9 |")
RATES = ("| | 2019 | 2018 | 2017 |\n|---|---|---|---|\n| Dividend yield | 4.6% | 4.5% | 4.1% |\n"
         "| Expected volatility | 27.1% | 28.7% | 26.0% |")
SEGMENTS = ("| Segment | Balance |\n|---|---|\n| Application Software | 5,236.1 |\n| Process Technologies | 312.3 |\n"
            "| Measurement | 3,798.4 |\n| Total | 9,346.8 |")
REVENUE = ("公司2023年营业收入为4.5亿元，2022年营业收入为4亿元。", "2023年研发投入为3.5亿元，销售费用为2.1亿元。")


@pytest.mark.parametrize("text, stated, computed", [
    ("1,496.5 − 1,202.9 = 293.6", "293.6", "293.6"),
    ("(7.2 − 5.1) / 5.1 ≈ 41%", "41", "41.17647058823529411764705882"),
    ("so 2011 − 1987 = 24 years", "24", "24"),
    ("3.5亿 + 2.1亿 = 5.6亿", "560000000.0", "560000000.0"),
    ("（44.1 - 56.7）/ 56.7 = -22.22%", "-22.22", "-22.22222222222222222222222222"),
    ("38.6 − 40 = -1.4%", "-1.4", "-1.4"),  # percentages a table writes without the sign
    ("32.4% − 29.8% = 2.6%", "2.6", "2.600"),
])
def test_stated_working_is_parsed_and_recomputed_exactly(text: str, stated: str, computed: str) -> None:
    [working] = stated_working(text)
    assert working.stated == Decimal(stated) and working.computed == Decimal(computed) and working.correct


@pytest.mark.parametrize("text", ["9**9**9 = 3", "__import__('os') = 1", "x + 2 = 5", "2 + = 4"])
def test_what_is_not_arithmetic_is_not_working(text: str) -> None:
    assert all(w.expression != text.split("=")[0].strip() for w in stated_working(text))


def test_division_by_zero_is_no_result() -> None:
    [working] = stated_working("5 / 0 = 1")
    assert working.computed is None and not working.correct


@pytest.mark.parametrize("question, answer, passages, expression", [
    ("How long did the harbour festival run?", "It ran for 24 years, from 1987 to 2011 [1][2].", FESTIVAL,
     "2011 − 1987"),
    ("What is the change in Other from 2018 to 2019?", "Other fell by 12.6 [1].", (SALES,), "56.7 − 44.1"),
    ("What is the percentage change in Other from 2018 to 2019?", "It changed by -22.22% [1].", (SALES,),
     "(44.1 − 56.7) / 56.7"),
    ("What is the change in total sales?", "Total sales grew by $293.6 million [1].", (SALES,),
     "$1,496.5 − $1,202.9"),
    ("What is the average of Other in 2019 and 2018?", "The average is 50.4 [1].", (SALES,), "(44.1 + 56.7) / 2"),
    ("What is the average dividend yield in 2017 and 2019?", "It averaged 4.35% [1].", (RATES,), "(4.6% + 4.1%) / 2"),
    ("What was the average dividend yield from 2017 to 2019?", "It averaged 4.40% [1].", (RATES,),
     "(4.6% + 4.5% + 4.1%) / 3"),
    ("What share of the total balance are Application Software and Process Technologies?",
     "Those segments make up 59.36% of it [1].", (SEGMENTS,), "(5,236.1 + 312.3) / 9,346.8"),
    ("公司营业收入同比增长多少？", "营业收入同比增长12.5% [1]。", REVENUE, "(4.5亿元 − 4亿元) / 4亿元"),
    ("研发投入和销售费用合计多少？", "两者合计5.6亿元 [2]。", REVENUE, "3.5亿元 + 2.1亿元"),
])
def test_a_derived_number_is_not_flagged_and_its_derivation_is_recorded(question: str, answer: str,
                                                                        passages: tuple[str, ...],
                                                                        expression: str) -> None:
    grounding = GroundingChecker().check(question, answer, numbered_passages(*passages))
    assert not grounding.flags, grounding.flags
    [derivation] = grounding.derivations
    assert derivation.expression == expression and not derivation.shown and derivation.markers


@pytest.mark.parametrize("question, answer, passages", [
    ("How long did the harbour festival run?", "It ran for 30 years [1][2].", FESTIVAL),
    ("What is the change in Other from 2018 to 2019?", "Other fell by 13.9 [1].", (SALES,)),
    ("How long is the oolong roasted?", "It is roasted for 10 days [1].",
     ("The oolong is withered for two hours and roasted over charcoal for eight hours.",)),
    ("公司营业收入同比增长多少？", "营业收入同比增长15% [1]。", REVENUE),
    # 4.3% is the 2018 and 2017 yields' average, but the question asks about 2019 and 2018.
    ("What is the average dividend yield in 2018 and 2019?", "It averaged 4.3% [1].", (RATES,)),
    # Percentage points are a difference of percentages: $3.3 million − $1.2 million is no 2.1%.
    ("What was the change in the percentage of sales from APAC between 2017 and 2018?", "It rose by 2.1% [1].",
     ("Sales in APAC were $3.3 million in 2018 and $1.2 million in 2017.",)),
])
def test_a_number_that_nothing_derives_is_still_flagged(question: str, answer: str, passages: tuple[str, ...]) -> None:
    grounding = GroundingChecker().check(question, answer, numbered_passages(*passages))
    assert [flag.kind for flag in grounding.flags] == ["number"] and not grounding.derivations


def test_working_shown_in_the_thinking_supports_the_answer() -> None:
    grounding = GroundingChecker().check("What is the change in total sales?", "Total sales grew by 293.6 [1].",
                                         numbered_passages(SALES), thinking="Total sales: 1,496.5 − 1,202.9 = 293.6.")
    assert not grounding.flags and [(d.text, d.shown) for d in grounding.derivations] == [("293.6", True)]


@pytest.mark.parametrize("answer, why", [
    ("1,496.5 − 1,202.9 = 283.6, so sales grew by 283.6 [1].",
     "stated 283.6; the working 1,496.5 − 1,202.9 gives 293.6"),
    ("营业收入增长 (4.5亿 − 4亿) / 4亿 = 15% [1]。", "stated 15%; the working (4.5亿 − 4亿) / 4亿 gives 12.5%"),
])
def test_a_wrong_result_in_stated_working_is_flagged_with_what_the_working_gives(answer: str, why: str) -> None:
    passages = (SALES,) if "sales" in answer else REVENUE
    grounding = GroundingChecker().check("How much did it grow?", answer, numbered_passages(*passages))
    assert why in [flag.why for flag in grounding.flags]


# A financial table as reports write it: the currency only on the first and the total rows, the total
# row unlabelled, a loss in parentheses, and a second table stacked under the first with its own years.
COSTS = ("| | 2019 | 2018 |\n|---|---|---|\n| Employee severance | $7,169 | $7,845 |\n"
         "| Pre-contract costs | 6 | 41 |\n| Other costs | 473 | 435 |\n| Profit before tax | (42.7) | 20.9 |\n"
         "| | $8,455 | $10,647 |\n| | 2017 | 2016 |\n| Employee severance | $724 | $600 |")


@pytest.mark.parametrize("question, answer, expression", [
    ("What is the difference in total costs between 2018 and 2019?", "It fell by 2,192 [1].", "$10,647 − $8,455"),
    ("What share of the costs in 2018 was employee severance?", "It was 73.68% [1].", "$7,845 / $10,647"),
    ("What was the change in profit before tax from 2018 to 2019?", "It changed by -63.6 [1].", "20.9 − (−42.7)"),
    ("What was the percentage change in employee severance in 2019?", "It fell by 8.62% [1].",
     "($7,169 − $7,845) / $7,845"),
])
def test_table_conventions_of_financial_reports_are_read(question: str, answer: str, expression: str) -> None:
    grounding = GroundingChecker().check(question, answer, numbered_passages(COSTS))
    assert not grounding.flags, grounding.flags
    assert [d.expression for d in grounding.derivations] == [expression]


@pytest.mark.parametrize("question, answer", [
    # 473 − 435: a row of costs, but not the one asked about.
    ("What was the change in the pre-contract costs from 2018 to 2019?", "It changed by 38 [1]."),
    # $7,845 − $600 would need the 2016 column of the table stacked below; the question asks for 2018.
    ("What was the change in employee severance from 2018 to 2019?", "It changed by 7,245 [1]."),
])
def test_operands_come_from_the_rows_and_years_asked_about(question: str, answer: str) -> None:
    grounding = GroundingChecker().check(question, answer, numbered_passages(COSTS))
    assert [flag.kind for flag in grounding.flags] == ["number"] and not grounding.derivations


def test_a_small_whole_number_comes_only_from_the_row_asked_about() -> None:
    """Almost any two small numbers make a third under 10: a small answer is derived only within the
    row that names what the question asks, in the years it asks about."""
    table = ("| | 2019 | 2018 | 2017 |\n|---|---|---|---|\n| Acquisition and integration costs | 17 | 8 | 5 |\n"
             "| Restructuring costs | 12 | 5 | 4 |")
    question = "What was the change in acquisition and integration costs from 2018 to 2019?"
    supported = GroundingChecker().check(question, "They rose by 9 [1].", numbered_passages(table))
    assert not supported.flags and [d.expression for d in supported.derivations] == ["17 − 8"]
    for wrong in ("7", "3"):  # 12 − 5 in another row; 8 − 5 in a year not asked about
        grounding = GroundingChecker().check(question, f"They rose by {wrong} [1].", numbered_passages(table))
        assert [flag.kind for flag in grounding.flags] == ["number"], wrong


def test_operands_come_from_one_row_column_or_line() -> None:
    """Over a whole report two unrelated numbers make almost any third: they are not combined."""
    search = DerivationSearch({1: "Staff: 37.\nThe museum has 3 floors.", 2: "Tickets cost 12 euros."})
    assert search.find(read_numbers("40")[0]) is None  # 37 + 3 from two lines
    assert search.find(read_numbers("It costs 25 euros")[0]) is None  # 12 + 13: no 13


def test_the_cli_shows_each_derivation() -> None:
    from rich.console import Console

    import ponder.cli.render as cli
    from ponder.types import Answer, Usage

    numbered = numbered_passages(SALES)
    grounding = GroundingChecker().check("What is the change in total sales?", "Sales grew by 293.6 [1].", numbered)
    answer = Answer("What is the change in total sales?", "Sales grew by 293.6 [1].", "", [], [h for _, h in numbered],
                    Usage(), {}, "direct", "", "en", grounding=grounding)
    console = Console(record=True, width=200)
    original, cli.out = cli.out, console
    try:
        cli.print_grounding(answer)
    finally:
        cli.out = original
    assert "= 293.6 = $1,496.5 − $1,202.9 (from [1])" in console.export_text()


def test_the_hand_labelled_chinese_numbers_are_told_apart() -> None:
    """60 answers over Chinese tables and text (tests/data/grounding_numbers_zh.json): a number the
    passage writes, one computed without working, the same with working, a wrong number and wrong
    working, over 万 / 亿 scales, percentages, 同比 / 环比, 合计, 平均, 占比, 相差 and years."""
    precision, recall, answers = chinese_numbers_quality()
    assert answers >= 60 and precision >= 0.95 and recall >= 0.95, (precision, recall)


def chinese_numbers_quality() -> tuple[float, float, int]:
    """Precision and recall of the number flags on the Chinese labelled set: a wrong number or wrong
    working must be flagged, the others not."""
    cases = json.loads((Path(__file__).parent / "data" / "grounding_numbers_zh.json").read_text(encoding="utf-8"))
    checker = GroundingChecker()
    caught_bad = caught = bad = answers = 0
    for case in cases["cases"]:
        for answer in case["answers"]:
            grounding = checker.check(case["question"], answer["text"], numbered_passages(case["passage"]), [1])
            flagged = [f for f in grounding.flags if f.kind == "number"]
            wrong = answer["kind"] in ("wrong number", "wrong working")
            on_span = any(answer.get("span", "") in f.text for f in flagged)
            caught, bad, answers = caught + bool(flagged), bad + wrong, answers + 1
            caught_bad += wrong and on_span
    return caught_bad / max(caught, 1), caught_bad / max(bad, 1), answers


def test_the_constants_of_stated_working_are_not_claims() -> None:
    grounding = GroundingChecker().check("What is the average of Other in 2019 and 2018?",
                                         "The average is (44.1 + 56.7) / 2 = 50.4 [1].", numbered_passages(SALES))
    assert grounding.flags == [] and [(d.text, d.shown) for d in grounding.derivations] == [("50.4", True)]
