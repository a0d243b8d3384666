"""`ask` latency split by stage on the embedded model (Gemma 3 270M through llama.cpp's server).

Ingests examples/, then asks each question ROUNDS times. Reports the one-off model start, then
p50/p95 of retrieve, answer (the model call) and end to end, and the mean tokens per question.

    python benchmarks/ask_latency.py [ROUNDS]
"""

from __future__ import annotations

import sys
import tempfile
import time

from common import REPO, header, percentile

from ponder import Ponder, load_config

QUESTIONS = [
    "How long is the oolong roasted?",
    "Who must wear a life jacket?",
    "When do members of the cooperative meet?",
    "What does hybrid retrieval do?",
    "青溪村图书馆每周哪天闭馆？",
    "每张借书证最多借几本书？",
    "水样要在多长时间内冷藏？",
]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    header("`ponder ask` latency by stage, embedded model")
    with tempfile.TemporaryDirectory() as data_dir, \
            Ponder(load_config(overrides={"data_dir": data_dir})) as ponder:
        report = ponder.ingest([REPO / "examples"])
        print(f"ingest examples/: {report.seconds:.2f} s ({report.summary()})")
        stages: dict[str, list[float]] = {"retrieve": [], "answer": [], "total": []}
        prompt_tokens, completion_tokens = [], []
        for round_number in range(rounds):
            for question in QUESTIONS:
                started = time.perf_counter()
                answer = ponder.ask(question)
                total = time.perf_counter() - started
                if "start_model" in answer.timings:
                    print(f"start_model (first question only): {answer.timings['start_model']:.2f} s")
                    total -= answer.timings["start_model"]
                stages["retrieve"].append(answer.timings["retrieve"])
                stages["answer"].append(answer.timings["answer"])
                stages["total"].append(total)
                prompt_tokens.append(answer.usage.prompt_tokens)
                completion_tokens.append(answer.usage.completion_tokens)
        print(f"\n{len(stages['total'])} questions ({len(QUESTIONS)} x {rounds}); total excludes the model start\n")
        print("| stage | p50 | p95 |\n|---|---|---|")
        for name, values in stages.items():
            print(f"| {name} | {percentile(values, 50) * 1000:.0f} ms | {percentile(values, 95) * 1000:.0f} ms |")
        print(f"\nmean tokens per question: {sum(prompt_tokens) / len(prompt_tokens):.0f} prompt, "
              f"{sum(completion_tokens) / len(completion_tokens):.1f} completion")


if __name__ == "__main__":
    main()
