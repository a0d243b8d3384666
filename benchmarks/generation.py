"""Generation speed of the embedded model server: prompt and completion tokens per second.

Starts the embedded model exactly as Ponder does (``LocalServer``) and streams completions of a
RAG-sized prompt (about 400 tokens: eight RGB passages and a question), greedy, with a fixed number of
new tokens. Measured from the client, so any server behind the same HTTP API is timed the same way:

* prompt tokens/s = prompt tokens / time to the first streamed token (prompt processing),
* completion tokens/s = (completion tokens - 1) / time from the first token to the last.

Token counts come from the stream's usage where the server sends it, else from the same greedy
request made again without streaming (llama-cpp-python's server reports usage only there). A
different prompt prefix each run keeps the server's prompt cache from helping the timed request.

    python benchmarks/generation.py [RUNS]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import header, shared_dir

from ponder.config import EmbeddedModelConfig
from ponder.llm.local_server import LocalServer

NEW_TOKENS = 128


def rag_prompt(question: dict, run: int) -> str:
    texts = (question["positive"] + question["negative"])[:8]
    passages = "\n\n".join(f"[{n}] {text}" for n, text in enumerate(texts, 1))
    return (f"Run {run}. Answer from the passages.\n\n{passages}\n\n"
            f"Question: {question['query']}\nAnswer:")


def timed_completion(base_url: str, prompt: str, api_key: str) -> tuple[int, int, float, float]:
    """(prompt tokens, completion tokens, seconds to first token, seconds from first to last token)."""
    body = {"prompt": prompt, "max_tokens": NEW_TOKENS, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}, "ignore_eos": True}
    started = time.perf_counter()
    first = last = 0.0
    usage = None
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.stream("POST", base_url + "/completions", json=body, headers=headers, timeout=300) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            event = json.loads(line[5:])
            if event.get("usage"):
                usage = event["usage"]
            if event.get("choices") and event["choices"][0].get("text"):
                last = time.perf_counter()
                first = first or last
    if usage is None:
        counted = httpx.post(base_url + "/completions", json=body | {"stream": False}, headers=headers, timeout=300)
        usage = counted.raise_for_status().json()["usage"]
    return usage["prompt_tokens"], usage["completion_tokens"], first - started, last - first


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    header("Generation speed of the embedded model")
    questions = [json.loads(line) for line in (shared_dir() / "data/rgb/en_fact.json").open()][:runs + 1]
    with tempfile.TemporaryDirectory() as log_dir:
        server = LocalServer(EmbeddedModelConfig(), log_path=Path(log_dir) / "server.log")
        started = time.perf_counter()
        base_url = server.url()
        print(f"server ready in {time.perf_counter() - started:.2f} s")
        try:
            timed_completion(base_url, rag_prompt(questions[-1], 0), server.api_key)  # warm-up
            prompt_rates, completion_rates = [], []
            for run, question in enumerate(questions[:runs], 1):
                prompt_tokens, completion_tokens, to_first, generating = timed_completion(
                    base_url, rag_prompt(question, run), server.api_key)
                prompt_rates.append(prompt_tokens / to_first)
                completion_rates.append((completion_tokens - 1) / generating)
                print(f"run {run}: {prompt_tokens} prompt tokens in {to_first:.2f} s, "
                      f"{completion_tokens} new tokens in {generating:.2f} s")
        finally:
            server.close()
    print(f"\n| prompt tokens/s (median of {runs}) | {statistics.median(prompt_rates):.0f} |")
    print(f"| completion tokens/s (median of {runs}) | {statistics.median(completion_rates):.1f} |")


if __name__ == "__main__":
    main()
