"""`ponder distill` against replayed provider replies: the question writer and the teacher answer
as DeepSeek's API does. Every filter, every output format parsed back, the split by document,
resume after SIGKILL, and `ponder eval` on the validation file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ponder.distill import Distiller, DistillOptions
from ponder.distill.records import split_by_document
from ponder.evaluate import load_dataset
from tests.conftest import write
from tests.fake_provider import Reply, chat_response

DOCS = {
    "a-oolong.md": "# Oolong\n\nThe oolong of the Qingxi cooperative is roasted for eight hours over charcoal, "
                   "then rested for two days before it is packed.",
    "b-ferry.md": "# Ferry\n\nThe river ferry runs every forty minutes from the north pier, and tickets cost "
                  "three euros for adults and one euro for children.",
    "c-station.md": "# Field station\n\nThe Ashby field station was founded in 1998 by the county council and "
                    "opens every year from the first of May to the end of September.",
    "d-library.md": "# 图书馆\n\n青溪村图书馆每周一闭馆，其余时间上午九点开门，"
                    "借书证可以在前台免费办理，每人最多借五本书。",
}


def _settings(provider, data_dir: Path) -> dict[str, object]:
    return {"data_dir": str(data_dir), "retrieve.mode": "bm25", "chat.base_url": provider.url,
            "chat.model": "fast-chat", "reasoner.base_url": provider.url, "reasoner.model": "deepseek-reasoner",
            "chat.retries": 0, "reasoner.retries": 0}


def _question(question: str, answer: str) -> Reply:
    return Reply(body=chat_response(json.dumps({"question": question, "answer": answer}, ensure_ascii=False),
                                    model="fast-chat", usage={"prompt_tokens": 90, "completion_tokens": 20,
                                                              "total_tokens": 110}))


def _teacher(answer: str, thinking: str) -> Reply:
    return Reply(body=chat_response(answer, "reasoning_content", thinking,
                                    usage={"prompt_tokens": 400, "completion_tokens": 120, "total_tokens": 520,
                                           "completion_tokens_details": {"reasoning_tokens": 80}}))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    for name, text in DOCS.items():
        write(folder / name, text)
    return folder


def test_filters_formats_split_and_card(provider, make_ponder, corpus: Path, tmp_path: Path) -> None:
    provider.replies += [
        # a-oolong: a good record (reference in the answer and in the thinking's conclusion)
        _question("How long is the Qingxi oolong roasted?", "eight hours"),
        _teacher("It is roasted for eight hours over charcoal [1].",
                 "Passage 1 is about the oolong. It says roasted for eight hours. So: eight hours."),
        # b-ferry: the writer's reply is not JSON
        Reply(body=chat_response("Sure! Here is a question about ferries.", model="fast-chat")),
        # c-station: the thinking concludes on another year than the answer
        _question("When was the Ashby field station founded?", "1998"),
        _teacher("It was founded in 1998 [1].", "The passage mentions the council. I conclude it was 1997."),
        # d-library: a good Chinese record
        _question("青溪村图书馆哪天闭馆？", "每周一"),
        _teacher("青溪村图书馆每周一闭馆[1]。", "段落1说图书馆每周一闭馆。所以答案是每周一。"),
    ]
    ponder = make_ponder(**_settings(provider, tmp_path / "index"))
    ponder.ingest([corpus])
    options = DistillOptions(kinds=("lookup",), per_doc=1, validation=0.5)
    result = Distiller(ponder, options).run(tmp_path / "out")

    by_source = {Path(r["source_paths"][0]).name: r for r in result.records}
    assert set(by_source) == {"a-oolong.md", "c-station.md", "d-library.md"}
    assert result.dropped_questions == {"question: unusable reply from the writer": 1}
    assert by_source["a-oolong.md"]["kept"] and by_source["d-library.md"]["kept"]
    assert by_source["c-station.md"]["reasons"] == ["thinking contradicts the answer"]
    good = by_source["a-oolong.md"]
    assert good["thinking"].endswith("So: eight hours.") and "<think>" not in good["answer"]
    assert good["citations"][0]["chunk_id"] in {p["chunk_id"] for p in good["passages"]}
    assert good["mode"] == "reasoner" and good["model"] == "deepseek-reasoner"
    assert good["usage"]["reasoning_tokens"] == 80
    assert by_source["d-library.md"]["language"] == "zh"
    # the writer's request asked for the schema; the teacher was asked with retrieved passages, not handed the source
    writer_request = provider.requests[0]["json"]
    assert writer_request["response_format"]["type"] == "json_schema"
    assert "[1]" in provider.requests[1]["json"]["messages"][-1]["content"]

    # split: no document on both sides, both sides non-empty
    assert sorted(result.splits.values()) == ["train", "validation"]
    out = tmp_path / "out"
    for name in ("plain", "openai", "sharegpt"):
        parts = {part: [json.loads(line) for line in (out / f"{part}.{name}.jsonl").read_text(encoding="utf-8")
                        .splitlines()] for part in ("train", "validation")}
        assert len(parts["train"]) == len(parts["validation"]) == 1
        for rows in parts.values():
            row = rows[0]
            if name == "openai":
                assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
                assert row["messages"][1]["content"].startswith("<think>\n")
            elif name == "sharegpt":
                assert [m["from"] for m in row["conversations"]] == ["human", "gpt"]
                human, gpt = (m["value"] for m in row["conversations"])
                assert gpt.startswith("<think>\n") and "</think>\n\n" in gpt and "[1]" in human
            else:
                assert row["answers"] == [row["reference"]] and row["relevant"] and row["type"] == "lookup"
    plain = {part: json.loads((out / f"{part}.plain.jsonl").read_text(encoding="utf-8")) for part in
             ("train", "validation")}
    assert not set(plain["train"]["relevant"]) & set(plain["validation"]["relevant"])
    card = (out / "card.md").read_text(encoding="utf-8")
    assert "**2 kept** (1 train, 1 validation)" in card
    assert "| thinking contradicts the answer | 1 |" in card
    assert "| question: unusable reply from the writer | 1 |" in card
    assert "| en | 1 |" in card and "| zh | 1 |" in card

    # `ponder eval` reads the validation file as a dataset
    dataset = load_dataset(f"jsonl:{out / 'validation.plain.jsonl'}")
    assert len(dataset.questions) == 1 and dataset.questions[0].answers == [plain["validation"]["reference"]]


def test_unanswerable_questions_must_be_refused_and_duplicates_are_dropped(provider, make_ponder, corpus: Path,
                                                                           tmp_path: Path) -> None:
    provider.replies += [
        _question("Who painted the ferry?", ""),
        _teacher("The ferry was painted by Anna Berg [1].", "Maybe someone painted it. Anna Berg."),
        _question("Who painted the ferry?", ""),  # the same question again: not asked twice
        _question("Who funds the station's boats?", ""),
        _teacher("The passages do not contain who funds the boats.", "No passage mentions funding."),
    ]
    ponder = make_ponder(**_settings(provider, tmp_path / "index"))
    ponder.ingest([corpus])
    options = DistillOptions(kinds=("unanswerable",), per_doc=1, limit=3)
    result = Distiller(ponder, options).run(tmp_path / "out")
    reasons = [r["reasons"] for r in result.records]
    assert reasons == [["unanswerable question answered"], []]
    assert result.dropped_questions == {"question: near-duplicate of an earlier one": 1}
    assert len(provider.requests) == 5


def test_a_configured_reasoner_must_think(provider, make_ponder, corpus: Path, tmp_path: Path) -> None:
    provider.replies += [_question("How long is the Qingxi oolong roasted?", "eight hours"),
                         _teacher("It is roasted for eight hours [1].", "")]
    ponder = make_ponder(**_settings(provider, tmp_path / "index"))
    ponder.ingest([corpus])
    result = Distiller(ponder, DistillOptions(kinds=("lookup",), per_doc=1, limit=1)).run(tmp_path / "out")
    assert result.records[0]["reasons"] == ["no thinking"]


def test_split_keeps_documents_linked_by_a_record_together() -> None:
    records = [{"id": str(n), "source_paths": paths} for n, paths in enumerate(
        [["a"], ["b"], ["a", "c"], ["d"], ["e", "f"], ["f"], ["g"], ["h"]])]
    splits = split_by_document(records, validation=0.3)
    side = {path: splits[r["id"]] for r in records for path in r["source_paths"]}
    for record in records:
        assert {side[p] for p in record["source_paths"]} == {splits[record["id"]]}
    assert splits["0"] == splits["2"] and splits["4"] == splits["5"]
    assert 1 <= list(splits.values()).count("validation") < len(records)
    assert split_by_document(records, validation=0.3) == splits  # stable


@pytest.mark.slow
def test_a_killed_run_resumes_without_duplicates_and_eval_runs_on_its_validation_file(
        provider, corpus: Path, tmp_path: Path) -> None:
    """The CLI, killed with SIGKILL after its first records: the rerun answers only the rest."""
    answer = json.dumps({"question": "How long is the Qingxi oolong roasted?", "answer": "eight hours"})
    provider.default = Reply(body=chat_response(answer, "reasoning_content", "So: eight hours.", model="m"),
                             delay_s=0.3)
    config = tmp_path / "ponder.toml"
    config.write_text(f'data_dir = "{tmp_path / "index"}"\n[retrieve]\nmode = "bm25"\n'
                      f'[chat]\nbase_url = "{provider.url}"\nmodel = "m"\nretries = 0\n', encoding="utf-8")
    base = [sys.executable, "-m", "ponder.cli", "--config", str(config)]
    subprocess.run(base + ["ingest", str(corpus)], check=True, capture_output=True, timeout=120)
    out = tmp_path / "out"
    command = base + ["distill", str(out), "--kinds", "lookup,unanswerable", "--per-doc", "2", "--validation", "0.5"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = out / "records.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not records.is_file() or records.read_text().count("\n") < 2):
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    written = records.read_text(encoding="utf-8").splitlines()
    assert 2 <= len(written)
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    lines = [json.loads(line) for line in records.read_text(encoding="utf-8").splitlines()]
    ids = [line["id"] for line in lines]
    assert len(ids) == len(set(ids)) == 4  # four documents, one chunk each
    assert [json.loads(line) for line in written[:2]] == lines[:2]  # nothing written before the kill was redone
    assert (out / "card.md").is_file() and "kept" in rerun.stdout
    evaluation = subprocess.run(base + ["eval", f"jsonl:{out / 'validation.plain.jsonl'}", "-o", str(tmp_path / "ev"),
                                        "-m", "direct"], capture_output=True, text=True, timeout=300)
    assert evaluation.returncode == 0, evaluation.stderr
    assert (tmp_path / "ev" / "report.md").is_file()


def test_cli_estimates_the_cost_asks_before_spending_and_dry_run_writes_nothing(provider, corpus: Path,
                                                                                 tmp_path: Path) -> None:
    provider.respond = lambda request: _question("How long is the Qingxi oolong roasted?", "eight hours") if (
        "response_format" in request) else _teacher("It is roasted for eight hours [1].", "So: eight hours.")
    config = tmp_path / "ponder.toml"
    config.write_text(f'data_dir = "{tmp_path / "index"}"\n[retrieve]\nmode = "bm25"\n'
                      f'[chat]\nbase_url = "{provider.url}"\nmodel = "fast-chat"\nretries = 0\n'
                      f'[prices."fast-chat"]\ninput = 1.0\noutput = 2.0\n', encoding="utf-8")
    base = [sys.executable, "-m", "ponder.cli", "--config", str(config)]
    subprocess.run(base + ["ingest", str(corpus)], check=True, capture_output=True, timeout=120)
    out = tmp_path / "out"
    declined = subprocess.run(base + ["distill", str(out), "--kinds", "lookup"], input="n\n", capture_output=True,
                              text=True, timeout=120)
    assert declined.returncode == 1 and "about $0.0" in declined.stdout and "Go on?" in declined.stderr
    assert not out.exists() and provider.requests == []
    dry = subprocess.run(base + ["distill", str(out), "--kinds", "lookup", "--dry-run"], capture_output=True,
                         text=True, timeout=120)
    assert dry.returncode == 0, dry.stderr
    # three sources: the oolong chunk gives a record; the others do not hold the writer's reference
    assert dry.stdout.count('"question": "How long is the Qingxi oolong roasted?"') == 1
    assert "no question: question: reference answer not in the source (2)" in dry.stdout and not out.exists()
    assert len([r for r in provider.requests if "response_format" in r["json"]]) == 3


def test_judge_drops_what_it_finds_wrong(provider, make_ponder, corpus: Path, tmp_path: Path) -> None:
    provider.replies += [
        _question("How long is the Qingxi oolong roasted?", "eight hours"),
        _teacher("It is roasted for eight hours [1], and for ten more at night.", "It says eight hours."),
        Reply(body=chat_response('{"correct": false, "why": "adds ten hours"}', model="fast-chat")),
    ]
    ponder = make_ponder(**_settings(provider, tmp_path / "index"))
    ponder.ingest([corpus])
    result = Distiller(ponder, DistillOptions(kinds=("lookup",), per_doc=1, limit=1, judge=True)).run(tmp_path / "o")
    assert result.records[0]["reasons"] == ["judge: answer wrong"]
    assert "eight hours" in provider.requests[2]["json"]["messages"][0]["content"]


def test_sources_are_spread_over_documents_and_pairs_share_an_entity(make_ponder, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write(folder / "a.md", "# Harbour\n\nThe Qingxi Cooperative runs the harbour shop, which sells dried fish, rope "
                           "and tea to the boats that call at the pier each morning.")
    write(folder / "b.md", "# Tea\n\nThe Qingxi Cooperative roasts its oolong for eight hours, and every spring it "
                           "sends 1,200 kilograms of it to buyers in the city.")
    write(folder / "c.md", "# Weather\n\nFog lies over the valley on most autumn mornings and lifts before noon; "
                           "the winter is mild and the summer is wet and warm.")
    ponder = make_ponder(tmp_path / "index", **{"retrieve.mode": "bm25"})
    ponder.ingest([folder])
    from ponder.distill.questions import sample_sources

    sources = sample_sources(ponder.store, ["lookup", "numeric", "multi-hop"], per_doc=1, limit=None)
    singles = [s for s in sources if s.kind != "multi-hop"]
    assert sorted(Path(s.chunks[0].path).name for s in singles) == ["a.md", "b.md", "c.md"]
    assert all(s.kind == "lookup" for s in singles if Path(s.chunks[0].path).name != "b.md")  # no number
    pairs = [s for s in sources if s.kind == "multi-hop"]
    assert pairs and {Path(c.path).name for c in pairs[0].chunks} == {"a.md", "b.md"}
    assert sample_sources(ponder.store, ["lookup", "numeric", "multi-hop"], per_doc=1, limit=None) == sources
    with pytest.raises(ValueError, match="valid kinds: lookup"):
        sample_sources(ponder.store, ["trivia"], per_doc=1, limit=None)


def test_every_filter_names_its_reason() -> None:
    from ponder.distill.records import Limits, check

    good = {"question": "How long is the oolong roasted?", "kind": "lookup", "reference": "eight hours",
            "answer": "It is roasted for eight hours [1].", "thinking": "Passage 1: eight hours.",
            "citations": [{"chunk_id": "c1"}], "invalid_citations": [], "source_chunk_ids": ["c1"],
            "source_texts": ["The oolong is roasted for eight hours."]}
    limits = Limits()
    assert check(good, limits, require_thinking=True) == []
    cases = {
        "answer length out of limits": {"answer": "x" * 2_001},
        "question too long": {"question": "q" * 301},
        "thinking too long": {"thinking": "t" * 30_001},
        "citations do not resolve": {"invalid_citations": [4]},
        "nothing cited": {"citations": []},
        "answerable question refused": {"answer": "The passages do not contain the answer."},
        "answer not supported by its source": {"citations": [{"chunk_id": "c9"}], "answer": "Ten days, in Paris [1]."},
        "no thinking": {"thinking": ""},
        "thinking contradicts the answer": {"reference": "1998", "answer": "It opened in 1998 [1].",
                                            "source_texts": ["It opened in 1998."], "thinking": "So it is 1997."},
    }
    for reason, change in cases.items():
        assert reason in check(good | change, limits, require_thinking=True), reason
    assert check(good | {"thinking": ""}, limits, require_thinking=False) == []
    assert check(good, limits, require_thinking=True, judge=lambda record: False) == ["judge: answer wrong"]


def test_a_failing_endpoint_stops_the_run_and_keeps_what_landed(provider, make_ponder, corpus: Path,
                                                                 tmp_path: Path) -> None:
    from ponder.llm import LLMError

    provider.replies += [_question("How long is the Qingxi oolong roasted?", "eight hours"),
                         _teacher("It is roasted for eight hours [1].", "So: eight hours.")]
    ponder = make_ponder(**_settings(provider, tmp_path / "index"))
    ponder.ingest([corpus])
    options = DistillOptions(kinds=("lookup",), per_doc=1)
    with pytest.raises(LLMError, match="500"):  # nothing more queued: the provider answers 500
        Distiller(ponder, options).run(tmp_path / "out")
    landed = (tmp_path / "out" / "records.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(landed) == 1 and json.loads(landed[0])["kept"]
    provider.respond = lambda request: _question("How long is the ferry ride?", "forty minutes") if (
        "response_format" in request) else _teacher("It runs every forty minutes [1].", "So: forty minutes.")
    result = Distiller(ponder, options).run(tmp_path / "out")
    assert len(result.records) + sum(result.dropped_questions.values()) == 4
    assert (tmp_path / "out" / "records.jsonl").read_text(encoding="utf-8").splitlines()[0] == landed[0]
