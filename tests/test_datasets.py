"""Dataset loaders on each format: RGB and HotpotQA (the real files in ../shared), generic JSONL,
BEIR."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.evaluate import DatasetError, answer_correct, load_dataset
from tests.conftest import write


def test_rgb_fact_and_integration_files(shared: Path) -> None:
    fact = load_dataset("rgb:en_fact", shared, limit=3)
    first = fact.questions[0]
    assert (first.query, first.answers, first.counterfactual) == ("Super Bowl 2021 location", ["Tampa, Florida"],
                                                                   "Glendale, Arizona")
    assert first.relevant and first.relevant <= fact.corpus.keys() and first.type == "en_fact"
    assert any("Tampa" in fact.corpus[p] for p in first.relevant)

    integration = load_dataset("rgb:zh_int", shared, limit=2)
    answers = integration.questions[0].answers
    assert all(isinstance(group, list) for group in answers) and len(answers) >= 2  # all-of
    assert answer_correct(" 和 ".join(group[0] for group in answers), answers)
    assert not answer_correct(answers[0][0], answers)
    assert load_dataset(f"rgb:{shared / 'data' / 'rgb' / 'zh_fact.json'}", limit=1).name == "rgb:zh_fact"


def test_hotpotqa_corpus_is_every_questions_paragraphs_with_their_titles(shared: Path, tmp_path: Path) -> None:
    dataset = load_dataset("hotpotqa:multihop/hotpotqa_100", shared)
    assert len(dataset.questions) == 100 and len(dataset.corpus) == 994  # as ../shared/README.md says
    first = dataset.questions[0]
    assert first.query == "If Gallu is a demon Lilu is what?" and first.answers == ["a spirit"]
    assert first.type == "bridge" and len(first.relevant) == 2
    titles = {dataset.corpus[p].split("\n")[0] for p in first.relevant}
    assert titles == {"# Alû", "# Lilu (mythology)"}
    written = dataset.write_corpus(tmp_path / "corpus")
    assert sorted(p.suffix for p in written.iterdir())[0] == ".md" and len(list(written.iterdir())) == 994
    bad = write(tmp_path / "bad.json", '[{"question": "q"}]')
    with pytest.raises(DatasetError, match="question 0 is not in HotpotQA's format"):
        load_dataset(f"hotpotqa:{bad}")


def test_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path / "qa.jsonl", '{"question": "When?", "answers": ["1889"], "relevant": ["eiffel.md"], '
                                        '"type": "lookup"}\n\n{"id": "q2", "question": "哪两天？", '
                                        '"answers": [["1月3日"], ["1月12日"]]}\n')
    dataset = load_dataset(f"jsonl:{path}")
    one, two = dataset.questions
    assert (one.id, one.relevant, one.type) == ("1", frozenset({"eiffel.md"}), "lookup")
    assert two.id == "q2" and two.answers == [["1月3日"], ["1月12日"]] and not dataset.corpus
    bad = write(tmp_path / "bad.jsonl", '{}\n{oops')
    with pytest.raises(DatasetError, match=r"bad.jsonl:2: not valid JSON"):
        load_dataset(f"jsonl:{bad}")
    no_question = write(tmp_path / "noq.jsonl", '{"answers": []}')
    with pytest.raises(DatasetError, match=r"noq.jsonl:1: needs \"question\""):
        load_dataset(f"jsonl:{no_question}")


def test_beir(tmp_path: Path) -> None:
    write(tmp_path / "corpus.jsonl", '{"_id": "d1", "title": "Eiffel", "text": "Completed in 1889."}\n'
                                     '{"_id": "d2", "title": "", "text": "Fuji is 3,776 m."}\n')
    write(tmp_path / "queries.jsonl", '{"_id": "q1", "text": "When was the Eiffel Tower completed?"}\n'
                                      '{"_id": "q9", "text": "unjudged"}\n')
    write(tmp_path / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\n")
    dataset = load_dataset(f"beir:{tmp_path}")
    assert [q.id for q in dataset.questions] == ["q1"] and dataset.questions[0].relevant == {"d1"}
    assert dataset.corpus["d1"] == "Eiffel\nCompleted in 1889."
    written = dataset.write_corpus(tmp_path / "out")
    assert (written / "d2.txt").read_text(encoding="utf-8") == "Fuji is 3,776 m."


def test_unknown_kind_names_the_valid_ones() -> None:
    valid = r"rgb:…, jsonl:…, hotpotqa:…, tatqa:…, beir:…"
    with pytest.raises(DatasetError, match=rf"unknown dataset 'squad:x'; use one of: {valid}"):
        load_dataset("squad:x")
