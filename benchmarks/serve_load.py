"""Load and faults for `ponder serve`: N concurrent streaming chats against a local upstream model
that answers slowly, then clients that hang up mid-stream, then an upstream that fails mid-stream.

Everything runs on loopback: the upstream is the replayed OpenAI-compatible provider from the test
suite (each reply a DeepSeek-shaped stream: reasoning deltas, then content), serving a bounded
number of replies, each with a fixed pause per delta; the server is a real `ponder serve` child
process (hybrid retrieval over examples/, no API keys), whose memory is read from /proc.

    python benchmarks/serve_load.py                       # 50 chats, 40 deltas 50 ms apart
    python benchmarks/serve_load.py --chats 100 --delay-ms 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import REPO, header, percentile

sys.path.insert(0, str(REPO))
from ponder import Ponder, load_config  # noqa: E402
from tests.fake_provider import FakeProvider, Reply, stream_events  # noqa: E402 - after the path is set


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def chat(client: httpx.AsyncClient, url: str, question: str, hang_up_after: int | None = None) -> dict:
    """One streaming chat: seconds to the first model token and to the end, and how it ended."""
    body = {"model": "ponder:default:reasoner", "stream": True, "messages": [{"role": "user", "content": question}]}
    started = time.perf_counter()
    first_token, deltas, ended = None, 0, "no [DONE]"
    async with client.stream("POST", url + "/v1/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                ended = "done"
                break
            event = json.loads(line[6:])
            if "error" in event:
                ended = "error event: " + event["error"]["message"][:80]
                break
            delta = event["choices"][0]["delta"] if event["choices"] else {}
            reasoning = delta.get("reasoning_content") or ""
            if delta.get("content") or (reasoning and not reasoning.startswith("› ")):  # "› " lines: progress
                first_token = first_token or time.perf_counter() - started
                deltas += 1
                if hang_up_after is not None and deltas >= hang_up_after:
                    ended = "hung up"
                    break
    return {"ttft": first_token, "total": time.perf_counter() - started, "ended": ended}


async def run_load(url: str, chats: int, hang_up_after: int | None = None) -> list[dict]:
    limits = httpx.Limits(max_connections=chats + 10)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        return await asyncio.gather(*(chat(client, url, f"How long is the oolong roasted? ({i})", hang_up_after)
                                      for i in range(chats)))


def wait_until(check, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--deltas", type=int, default=40, help="Deltas per upstream reply (half thinking).")
    parser.add_argument("--delay-ms", type=float, default=50, help="Upstream pause before each delta.")
    args = parser.parse_args()
    header(f"serve_load: {args.chats} concurrent streaming chats; upstream {args.deltas} deltas, "
           f"{args.delay_ms:g} ms apart")

    half = args.deltas // 2
    upstream = FakeProvider().start()
    reply = Reply(events=stream_events([f"word{i} " for i in range(half)] + ["[1]."],
                                       [f"thought{i} " for i in range(half)],
                                       usage={"prompt_tokens": 400, "completion_tokens": args.deltas}),
                  event_delay_s=args.delay_ms / 1000)
    upstream.replies = [reply] * args.chats  # bounded: nothing is served beyond these
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "ponder.toml"
        config_path.write_text(f'data_dir = "{tmp}/data"\n[chat]\nbase_url = "{upstream.url}"\nmodel = "upstream"\n'
                               f'retries = 0\n[serve]\nrequire_keys = false\n', encoding="utf-8")
        with Ponder(load_config(config_path, env={})) as ponder:
            ponder.ingest([REPO / "examples"])
        port = 18000 + (int(time.time()) % 1000)
        server = subprocess.Popen([sys.executable, "-m", "ponder.cli", "--config", str(config_path), "serve",
                                   "--host", "127.0.0.1", "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"
        try:
            if not wait_until(lambda: _up(url), 60):
                sys.exit("the server did not start: " + server.stderr.read().decode()[-2000:])
            # One chat first, so that lazy set-up (embedder load, index load) is not counted as load.
            upstream.replies.insert(0, reply)
            asyncio.run(run_load(url, 1))
            before = rss_mib(server.pid)
            started = time.perf_counter()
            results = asyncio.run(run_load(url, args.chats))
            wall = time.perf_counter() - started
            after = rss_mib(server.pid)
            done = [r for r in results if r["ended"] == "done"]
            ttft = [r["ttft"] for r in done if r["ttft"] is not None]
            total = [r["total"] for r in done]
            floor = args.deltas * args.delay_ms / 1000
            print(f"completed {len(done)}/{args.chats} in {wall:.1f} s wall "
                  f"(an upstream reply alone takes ≥ {floor:.1f} s); upstream most in flight {upstream.max_in_flight}")
            print(f"time to first model token p50 {percentile(ttft, 50):.2f} s, p95 {percentile(ttft, 95):.2f} s")
            print(f"total per chat p50 {percentile(total, 50):.2f} s, p95 {percentile(total, 95):.2f} s")
            print(f"server memory (RSS) before {before:.0f} MiB, after {after:.0f} MiB")
            others = sorted({r["ended"] for r in results} - {"done"})
            if others:
                print("other endings:", others)

            # Clients that hang up after 3 deltas: each upstream stream must be cancelled.
            hang_ups = 10
            upstream.replies = [Reply(events=reply.events, event_delay_s=0.1)] * hang_ups
            upstream.disconnects = 0
            asyncio.run(run_load(url, hang_ups, hang_up_after=3))
            cancelled = wait_until(lambda: upstream.disconnects >= hang_ups, 30)
            print(f"clients hanging up mid-stream: {hang_ups}; upstream streams cancelled: {upstream.disconnects}"
                  + ("" if cancelled else " (not all within 30 s)"))

            # An upstream that dies mid-stream: the client gets an error event, not a hang.
            upstream.replies = [Reply(events=stream_events(["partial "], ["thinking "], done=False))]
            started = time.perf_counter()
            [failed] = asyncio.run(run_load(url, 1))
            print(f"upstream cut off mid-stream: the client saw '{failed['ended']}' after "
                  f"{time.perf_counter() - started:.2f} s")
        finally:
            server.terminate()
            server.wait(timeout=30)
            upstream.stop()


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


if __name__ == "__main__":
    main()
