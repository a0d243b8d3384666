"""Numeric answers without a model: the shape of the question, operands chosen from table cells
(row label, year column) and sentences, the result from the calculator, the working stated so the
grounding check recomputes it; English and Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.reason.compute import compute, computed_answer, question_shape
from ponder.reason.grounding import GroundingChecker
from tests.conftest import numbered_passages, write

SALES = ("Revenue by contract type (in millions).\n\n"
         "| | Years Ended September 30, | | |\n|---|---|---|---|\n| | 2019 | 2018 | 2017 |\n"
         "| Fixed Price | $ 1,452.4 | $ 1,146.2 | $ 1,036.9 |\n| Other | 44.1 | 56.7 | 70.8 |\n"
         "| Other comprehensive income | (3.2) | 5.0 | 1.1 |\n| Total sales | $ 1,496.5 | $ 1,202.9 | $ 1,107.7 |")
SEGMENTS = ("| 单位：万元 | 2023年 | 2022年 |\n|---|---|---|\n| 营业收入 | 45,000 | 40,000 |\n"
            "| 研发投入 | 3,500 | 2,800 |")
PRICES = ("| | 2019 | 2018 |\n|---|---|---|\n| Average price paid per share | $65.53 | $64.77 |\n"
          "| Shares | 3,608 | 3,380 |")
# The total row has no label; a second table with its own years is stacked under the first.
COSTS = ("| | 2019 | 2018 |\n|---|---|---|\n| Employee severance and related costs | $7,169 | $7,845 |\n"
         "| Other | 1,286 | 2,802 |\n| | $8,455 | $10,647 |\n| | 2017 | 2016 |\n| Other | 315 | 200 |")
# A row that is only a label heads the rows under it: "Basic" is the basic net income per share.
PER_SHARE = ("| | 2019 | 2018 | 2017 |\n|---|---|---|---|\n| Net income | $ 1,169 | $ 116 | $ 481 |\n"
             "| Shares used in basic computation | 254 | 268 | 275 |\n| Net Income per Share: | | | |\n"
             "| Basic | $ 4.60 | $ 0.43 | $ 1.75 |\n| Diluted | $ 4.51 | $ 0.42 | $ 1.71 |")
REVENUE = "公司2023年营业收入为4.5亿元，2022年营业收入为4亿元。2023年研发投入为3.5亿元。"


@pytest.mark.parametrize("question, passage, expression, result", [
    ("What was the change in Other from 2018 to 2019?", SALES, "44.1 − 56.7", "-12.6"),
    ("What is the percentage change in total sales between 2018 and 2019?", SALES,
     "(1,496.5 − 1,202.9) / 1,202.9", "24.41%"),
    ("What is the average Fixed Price for 2017-2019?", SALES, "(1,452.4 + 1,146.2 + 1,036.9) / 3", "1,211.83"),
    ("What is the total of other in 2018 and 2017?", SALES, "56.7 + 70.8", "127.5"),
    ("What is Other as a percentage of Total sales in 2019?", SALES, "44.1 / 1,496.5", "2.95%"),
    ("What was the change in other comprehensive income from 2018 to 2019?", SALES, "(-3.2) − 5.0", "-8.2"),
    ("2023年营业收入比2022年增长多少？", SEGMENTS, "45,000 − 40,000", "5,000"),
    ("营业收入2023年同比增长率是多少？2022年呢？", SEGMENTS, "(45,000 − 40,000) / 40,000", "12.5%"),
    ("2022年和2023年研发投入平均是多少？", SEGMENTS, "(3,500 + 2,800) / 2", "3,150"),
    ("2023年研发投入占营业收入的比例是多少？", SEGMENTS, "3,500 / 45,000", "7.78%"),
    ("2023年营业收入比2022年增长了多少？", REVENUE, "4.5亿 − 4亿", "0.5亿"),
    # No years named: an average is over every year the row has, a change over the latest two.
    ("What is the average Fixed Price?", SALES, "(1,452.4 + 1,146.2 + 1,036.9) / 3", "1,211.83"),
    ("What is the change in Other?", SALES, "44.1 − 56.7", "-12.6"),
    # One year named for a change: from the year before.
    ("What was the percentage change in total sales in 2018?", SALES, "(1,202.9 − 1,107.7) / 1,107.7", "8.59%"),
    ("What was the change in the average price from 2018 to 2019?", PRICES, "65.53 − 64.77", "0.76"),
    ("What is the difference in total costs between 2018 and 2019?", COSTS, "8,455 − 10,647", "-2,192"),
    ("What was the change in the basic net income per share from 2017 to 2018?", PER_SHARE, "0.43 − 1.75", "-1.32"),
    ("What was the change in percentage of sales represented by other from 2018 to 2019?", SALES, "44.1 − 56.7",
     "-12.6"),
])
def test_the_shape_and_operands_give_the_result(question: str, passage: str, expression: str, result: str) -> None:
    computed = compute(question, numbered_passages("An unrelated passage, 2019.", passage))
    assert computed is not None and computed.expression == expression and computed.result_text() == result
    assert computed.markers == [2]


@pytest.mark.parametrize("question", [
    "Who founded the cooperative?",  # no numeric shape
    "What was the change in headcount from 2018 to 2019?",  # no row is about headcount
    "What was the change in Other from 2016 to 2019?",  # no 2016 column
    "公司的研发投入是多少？",  # a look-up, not a computation
    "In which year was the amount of total sales the largest?",  # asks for a year, not a sum
    "Why did Other decrease from 2018 to 2019?",
    "为什么2023年营业收入比2022年增长？",
    "What caused the increase in Other in 2019?",
])
def test_no_computed_answer_when_no_shape_or_operand_fits(question: str) -> None:
    assert compute(question, numbered_passages(SALES, SEGMENTS)) is None


def test_the_answer_states_its_working_and_the_check_recomputes_it() -> None:
    numbered = numbered_passages(SALES)
    question = "What is the percentage change in total sales between 2018 and 2019?"
    answer = computed_answer(compute(question, numbered), "en")
    assert answer == ("The percentage change in Total sales from 2018 to 2019 is (1,496.5 − 1,202.9) / 1,202.9 "
                      "= 24.41% [1].")
    grounding = GroundingChecker().check(question, answer, numbered, [1])
    assert grounding.verdict == "supported" and [(d.text, d.shown) for d in grounding.derivations] == [("24.41%", True)]
    wrong = answer.replace("24.41%", "26.41%")
    assert "the working" in GroundingChecker().check(question, wrong, numbered, [1]).flags[0].why


def test_chinese_answer_names_the_item_and_years() -> None:
    numbered = numbered_passages(SEGMENTS)
    answer = computed_answer(compute("2023年营业收入比2022年增长多少？", numbered), "zh")
    assert answer == "营业收入从2022年到2023年的变化为 45,000 − 40,000 = 5,000 [1]。"
    assert GroundingChecker().check("2023年营业收入比2022年增长多少？", answer, numbered, [1]).verdict == "supported"


@pytest.mark.parametrize("question, shape", [
    ("What was the percentage change in revenue?", "percent_change"), ("收入同比增长多少？", "percent_change"),
    ("What is the average cost?", "average"), ("What is the change in cost?", "change"),
    ("研发投入占收入的比重", "share"), ("两个部门相差多少？", "difference"), ("What is the total revenue?", "sum"),
    ("Who is the CEO?", None),
])
def test_question_shapes(question: str, shape: str | None) -> None:
    assert question_shape(question) == shape


def test_a_numeric_question_is_computed_end_to_end_without_a_model_call(make_ponder, provider, tmp_path: Path) -> None:
    ponder = make_ponder(**{"retrieve.mode": "bm25", "chat.base_url": provider.url, "chat.model": "fast-chat",
                            "chat.retries": 0, "reason.answer_style": "extractive"})
    ponder.ingest([write(tmp_path / "docs" / "sales.md", f"# Sales\n\n{SALES}\n")])
    answer = ponder.ask("What was the change in Other from 2018 to 2019?", mode="direct")
    assert answer.text == "The change in Other from 2018 to 2019 is 44.1 − 56.7 = -12.6 [1]."
    step = next(s for s in answer.trace.steps if s.stage == "calculate")
    assert step.detail["expression"] == "44.1 − 56.7" and step.detail["result"] == "-12.6"
    assert [o["year"] for o in step.detail["operands"]] == [2019, 2018]
    [cited] = answer.citations
    assert cited.path.endswith("sales.md")
    assert "| Other | 44.1 | 56.7 | 70.8 |" in answer.hits[cited.marker - 1].chunk.text
    assert answer.grounding.verdict == "supported" and answer.grounding.derivations[0].shown
    assert provider.requests == []  # computed by rules: no model was asked
