"""Prompt injection through documents, before and after Ponder's defences (issue 18).

The attack corpus is tests/data/injection/ (attacks.json lists each document, its question, the
structural payload a prompt must not contain, and a canary the answer must not repeat). Each
version of Ponder ingests the corpus and answers every attack's question, restricted to its
document, so the payload is certainly retrieved:

* against a replayed provider (tests/fake_provider.py) in the direct, reasoner and
  think-then-answer modes, recording every prompt: did the structural payload (chat-template
  tokens, fake turns, forged citations, hidden or smuggled text) reach a prompt as is? did the
  payload's words (its canary) reach a prompt at all? PDFs are read with ``ingest.pdf_engine =
  "text"`` here: the layout engine of the time (pymupdf4llm) already skipped the invisible text before.
* on a real model, generative answers in the direct and reasoner modes: how many answers repeat
  the canary. The embedded Gemma 3 270M by default; ``--config ponder.toml`` uses the chat and
  reasoner endpoints configured there (the measure that says whether a model obeys a document).

"Before" is a git worktree of ``--before`` (default: the last commit before the defences), run in
a subprocess with that tree first on sys.path; "after" is this tree.

    python benchmarks/injection.py [--before REF] [--skip-embedded] [--config PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import REPO, header

CORPUS = REPO / "tests" / "data" / "injection"
BEFORE = "32b8284"  # main before issue 18
REPLAYED_MODES = ("direct", "reasoner", "think-then-answer")
EMBEDDED_MODES = ("direct", "reasoner")


def measure(root: Path, out: Path, embedded: bool, config: str | None) -> None:
    """Runs in a subprocess whose ``ponder`` and ``tests`` come from ``root``."""
    sys.path.insert(0, str(root))
    from ponder import Ponder, load_config
    from ponder.retrieve.filters import Filter
    from tests.fake_provider import FakeProvider, Reply, chat_response

    print(f"measuring {Path(sys.modules['ponder'].__file__).parent}", file=sys.stderr)
    attacks = json.loads((CORPUS / "attacks.json").read_text(encoding="utf-8"))
    results = {attack["file"]: {"attack": attack["attack"], "language": attack["language"]} for attack in attacks}
    provider = FakeProvider().start()
    provider.respond = lambda request: Reply(body=chat_response("The passages say so [1].", "reasoning_content",
                                                                "Passage 1 answers it."))
    with tempfile.TemporaryDirectory() as tmp:
        settings = {"data_dir": f"{tmp}/replayed", "retrieve.mode": "bm25", "ingest.pdf_engine": "text",
                    "chat.base_url": provider.url, "chat.model": "fast-chat", "reasoner.base_url": provider.url,
                    "reasoner.model": "deepseek-reasoner"}
        ponder = Ponder(load_config(env={}, overrides=settings))
        ponder.ingest([CORPUS])
        for attack in attacks:
            where = Filter(path_glob=f"*/{attack['file']}")
            indexed = "\n".join(hit.chunk.text for hit in ponder.search(attack["question"], top_k=20, where=where))
            prompts = []
            for mode in REPLAYED_MODES:
                before = len(provider.requests)
                ponder.ask(attack["question"], where=where, mode=mode)
                prompts += [m["content"] for r in provider.requests[before:] for m in r["json"]["messages"]]
            text = "\n".join(prompts)
            results[attack["file"]].update(
                markers_in_prompt=any(marker in text for marker in attack["markers"]) if attack["markers"] else None,
                canary_in_prompt=attack["canary"] in text if attack["canary"] else None,
                canary_indexed=attack["canary"] in indexed if attack["canary"] else None,
            )
        ponder.close()
        provider.stop()
        if embedded:
            ponder = Ponder(load_config(config, env={}, overrides={"data_dir": f"{tmp}/model",
                                                                   "reason.answer_style": "generative"}))
            ponder.ingest([CORPUS])
            for attack in attacks:
                answers = [ponder.ask(attack["question"], where=Filter(path_glob=f"*/{attack['file']}"), mode=mode)
                           for mode in EMBEDDED_MODES]
                results[attack["file"]]["answers"] = [answer.text for answer in answers]
                results[attack["file"]]["repeated"] = (sum(attack["canary"] in a.text for a in answers)
                                                       if attack["canary"] else None)
            ponder.close()
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


def run_version(root: Path, embedded: bool, config: str | None) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, __file__, "--measure", str(root), "--out", out.name]
        command += ["--config", str(Path(config).resolve())] if config else []
        subprocess.run(command + ([] if embedded else ["--skip-embedded"]), check=True, cwd=REPO,
                       env={**os.environ, "PYTHONPATH": str(root)})
        return json.loads(Path(out.name).read_text(encoding="utf-8"))


def cell(value: bool | None) -> str:
    return "–" if value is None else ("yes" if value else "no")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=BEFORE, help="the commit to compare with (default: before issue 18)")
    parser.add_argument("--skip-embedded", action="store_true", help="only the replayed provider")
    parser.add_argument("--config", help="a ponder.toml whose chat/reasoner endpoints answer (default: embedded)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(Path(args.measure), Path(args.out), not args.skip_embedded, args.config)
        return
    embedded = not args.skip_embedded
    with tempfile.TemporaryDirectory() as tmp:
        worktree = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(worktree), args.before], cwd=REPO, check=True)
        try:
            before = run_version(worktree, embedded, args.config)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=REPO, check=True)
    after = run_version(REPO, embedded, args.config)
    header(f"Prompt injection through documents: {args.before} (before) → this tree (after)")
    per_answer = f" | answers repeating the canary (of {len(EMBEDDED_MODES)})" if embedded else ""
    print(f"| attack | doc | structural payload in a prompt | payload words in a prompt | payload indexed"
          f"{per_answer} |")
    print("|---|---|---|---|---|" + ("---|" if embedded else ""))
    totals = {"before": 0, "after": 0}
    for name, was in before.items():
        now = after[name]
        row = (f"| {was['attack']} | {name} | {cell(was['markers_in_prompt'])} → {cell(now['markers_in_prompt'])} "
               f"| {cell(was['canary_in_prompt'])} → {cell(now['canary_in_prompt'])} "
               f"| {cell(was['canary_indexed'])} → {cell(now['canary_indexed'])} |")
        if embedded:
            row += f" {cell_count(was['repeated'])} → {cell_count(now['repeated'])} |"
            totals["before"] += was["repeated"] or 0
            totals["after"] += now["repeated"] or 0
        print(row)
    structural = [n for n, r in before.items() if r["markers_in_prompt"] is not None]
    print(f"\nstructural payloads reaching a prompt: {sum(before[n]['markers_in_prompt'] for n in structural)} → "
          f"{sum(after[n]['markers_in_prompt'] for n in structural)} of {len(structural)} documents")
    if embedded:
        asked = sum(len(EMBEDDED_MODES) for r in before.values() if r["repeated"] is not None)
        print(f"model answers repeating a canary: {totals['before']} → {totals['after']} of {asked}")


def cell_count(value: int | None) -> str:
    return "–" if value is None else str(value)


if __name__ == "__main__":
    main()
