"""`ponder distill` on CRUD-RAG Chinese news: throughput against a replayed reasoner, and an end-to-end
run on the embedded model that reports what it kept and why it dropped the rest.

* replayed: the question writer and the teacher are a local OpenAI-compatible server replaying
  DeepSeek-shaped replies (tests/fake_provider.py) with ``--delay-ms`` per reply, so the numbers are
  Ponder's own cost per record (sampling, retrieval, filters, files) plus that delay;
* embedded: Gemma 3 270M writes the questions and answers them (extractive), nothing configured.

    python benchmarks/distill.py [--articles 300] [--questions 40] [--delay-ms 200] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import REPO, header, shared_dir

from ponder import Ponder, load_config
from ponder.distill import Distiller, DistillOptions

sys.path.insert(0, str(REPO))
from tests.fake_provider import FakeProvider, Reply, chat_response  # noqa: E402 - the replayed provider


def corpus(folder: Path, count: int) -> Path:
    lines = []
    for part in sorted((shared_dir() / "data" / "crud-news").glob("documents_part_*.txt")):
        lines += [line.strip() for line in part.read_text(encoding="utf-8").splitlines() if line.strip()]
    for number, text in enumerate(lines[:count]):
        (folder / f"news-{number:04d}.txt").write_text(text, encoding="utf-8")
    return folder


def replayed_provider(delay_s: float) -> FakeProvider:
    """Replies made from each request, as a diligent model would: the question writer copies a
    phrase of its passage as the reference answer and asks about it; the agentic planner searches
    once and then answers; the teacher thinks, answers with that phrase and cites passage 1."""
    def respond(request: dict) -> Reply:
        prompt = request["messages"][-1]["content"]
        usage = {"prompt_tokens": len(prompt), "completion_tokens": 150, "total_tokens": len(prompt) + 150}
        schema_name = (request.get("response_format") or {}).get("json_schema", {}).get("name")
        if schema_name == "plan":  # agentic (multi-hop): one search of the question, then answer
            action = "search" if prompt.count("[1]") == 0 else "answer"
            content = json.dumps({"action": action, "query": prompt.rsplit("\n", 1)[-1][:100]}, ensure_ascii=False)
            return Reply(body=chat_response(content, model="deepseek-reasoner", usage=usage), delay_s=delay_s)
        if schema_name == "distill-question":
            passage = prompt.split("段落1：", 1)[-1].split("Passage 1:", 1)[-1].split()
            phrase = "".join(passage)[12:20] if passage else "新闻"
            content = json.dumps({"question": f"报道中“{phrase}”指的是什么？", "answer": phrase}, ensure_ascii=False)
            return Reply(body=chat_response(content, model="fast-chat", usage=usage), delay_s=delay_s)
        question = prompt.rsplit("\n", 1)[-1]
        phrase = question.split("“", 1)[-1].split("”", 1)[0]
        return Reply(body=chat_response(f"报道中说的是{phrase}[1]。", "reasoning_content",
                                        f"段落1提到了{phrase}。结论：{phrase}。", usage=usage), delay_s=delay_s)

    provider = FakeProvider().start()
    provider.respond = respond
    return provider


def run(settings: dict[str, object], docs: Path, out: Path, options: DistillOptions) -> tuple[float, object]:
    with Ponder(load_config(env={}, overrides=settings)) as ponder:
        started = time.perf_counter()
        ponder.ingest([docs])
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        result = Distiller(ponder, options).run(out)
        seconds = time.perf_counter() - started
    print(f"ingest {ingest_s:.1f} s; distill {seconds:.1f} s")
    return seconds, result


def report(label: str, seconds: float, result) -> None:  # noqa: ANN001
    answered = len(result.records)
    tokens = sum(r["usage"]["prompt_tokens"] + r["usage"]["completion_tokens"] for r in result.records)
    reasons = Counter(result.dropped_questions)
    reasons.update(reason for r in result.records for reason in r["reasons"])
    lines = answered + sum(result.dropped_questions.values())
    print(f"\n| {label} | {lines} sources, {answered} answered, {result.kept} kept | "
          f"{lines / seconds * 60:.0f} sources/min | "
          f"{(tokens / result.kept) if result.kept else float('nan'):,.0f} tokens per kept record |")
    sources = Counter({kind: 0 for kind in ("lookup", "numeric", "multi-hop", "unanswerable")})
    sources.update(r["kind"] for r in result.records)
    kept = Counter(r["kind"] for r in result.records if r["kept"])
    print("|   answered / kept by kind | " + ", ".join(f"{k} {n} / {kept[k]}" for k, n in sources.items()) + " |")
    for reason, count in reasons.most_common():
        print(f"|   dropped: {reason} | {count} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--delay-ms", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--skip-embedded", action="store_true")
    arguments = parser.parse_args()
    header(f"ponder distill on {arguments.articles} CRUD-RAG news articles")
    kinds = ("lookup", "numeric", "multi-hop", "unanswerable")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "docs").mkdir()
        docs = corpus(root / "docs", arguments.articles)
        provider = replayed_provider(arguments.delay_ms / 1000)
        try:
            settings = {"data_dir": str(root / "replayed"), "retrieve.mode": "bm25", "chat.base_url": provider.url,
                        "chat.model": "fast-chat", "reasoner.base_url": provider.url,
                        "reasoner.model": "deepseek-reasoner"}
            options = DistillOptions(kinds=kinds, per_doc=1, limit=arguments.questions * 2,
                                     concurrency=arguments.concurrency)
            seconds, result = run(settings, docs, root / "out-replayed", options)
            report(f"replayed reasoner ({arguments.delay_ms} ms a reply, concurrency {arguments.concurrency})",
                   seconds, result)
        finally:
            provider.stop()
        if not arguments.skip_embedded:
            settings = {"data_dir": str(root / "embedded")}
            options = DistillOptions(kinds=kinds, per_doc=1, limit=arguments.questions)
            seconds, result = run(settings, docs, root / "out-embedded", options)
            report("embedded Gemma 3 270M (hybrid retrieval)", seconds, result)
            print("\n" + (root / "out-embedded" / "card.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
