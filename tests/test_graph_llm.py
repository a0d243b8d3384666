"""The model extractor against replayed provider replies (the remote wire format is the only fake):
typed entities and relations with descriptions, Chinese prompts, unusable replies, a 429 storm and
a killed process, each resumed without reading a finished chunk twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ponder.config import ConfigError, load_config
from tests.conftest import write
from tests.fake_provider import FakeProvider, Reply, chat_response


def extraction(entities: list[tuple[str, str, str]], relations: list[tuple[str, str, str, int]]) -> Reply:
    body = {"entities": [{"name": n, "type": t, "description": d} for n, t, d in entities],
            "relations": [{"source": s, "target": t, "description": d, "strength": w} for s, t, d, w in relations]}
    return Reply(body=chat_response(json.dumps(body, ensure_ascii=False), model="fast-chat",
                                    usage={"prompt_tokens": 200, "completion_tokens": 50}))


FILM = extraction([("Demon Film", "work", "A 1990 horror movie."), ("Zara Quill", "person", "Directed Demon Film.")],
                  [("Zara Quill", "Demon Film", "Zara Quill directed Demon Film.", 9)])


def settings(provider: FakeProvider, **more: object) -> dict[str, object]:
    return {"retrieve.mode": "bm25", "graph.extractor": "llm", "chat.base_url": provider.url,
            "chat.model": "fast-chat", "chat.retries": 0, **more}


def test_llm_extractor_stores_typed_entities_and_described_relations(make_ponder, provider, tmp_path):
    docs = tmp_path / "docs"
    write(docs / "film.md", "# Demon Film\n\nDemon Film is a 1990 horror movie directed by Zara Quill.\n")
    write(docs / "青溪.md", "# 青溪村\n\n张三在青溪村图书馆工作。\n")
    library = extraction([("张三", "person", "图书馆员。"), ("青溪村图书馆", "organization", "村图书馆。")],
                         [("张三", "青溪村图书馆", "张三在这里工作。", 7)])
    provider.replies += [FILM, library]
    ponder = make_ponder(**settings(provider))
    report = ponder.ingest([docs])
    update = report.graph
    assert (update.chunks, update.calls, update.fallbacks, update.error) == (2, 2, 0, None)
    assert update.extractor == "llm/fast-chat" and update.usage.prompt_tokens == 400
    prompts = [r["json"]["messages"][-1]["content"] for r in provider.requests]
    assert "Extract the named entities" in prompts[0] and "从下面的段落中抽取" in prompts[1]
    assert provider.requests[0]["json"]["response_format"]["type"] == "json_schema"
    graph = ponder.graph
    graph.refresh()
    zara = graph.entities[graph.index["zara quill"]]
    assert zara.type == "person" and zara.description == "Directed Demon Film."
    film = graph.entities[graph.index["demon film"]]
    assert film.type == "work" and film.chunks == 1  # the title and the named entity are one
    assert graph.entities[graph.index["张三"]].type == "person"
    sources = ponder.store.relation_sources("zara quill")
    assert list(sources) == [("demon film", "zara quill")]
    with ponder.store._db as db:
        (description,) = db.execute("SELECT description FROM relations WHERE source='demon film'").fetchone()
    assert description == "Zara Quill directed Demon Film."


def test_unusable_reply_falls_back_to_the_offline_extractor(make_ponder, provider, tmp_path):
    write(tmp_path / "docs" / "film.md", "# Demon Film\n\nDemon Film is a movie directed by Zara Quill.\n")
    provider.replies.append(Reply(body=chat_response("Sure! Here are some entities: Demon Film, Zara Quill.",
                                                     model="fast-chat")))
    ponder = make_ponder(**settings(provider))
    update = ponder.ingest([tmp_path / "docs"]).graph
    assert (update.chunks, update.calls, update.fallbacks) == (1, 1, 1)
    ponder.graph.refresh()
    assert "zara quill" in ponder.graph.index  # found by the offline rules instead


def test_429_storm_stops_and_the_next_ingest_reads_only_the_rest(make_ponder, provider, tmp_path):
    docs = tmp_path / "docs"
    for number in range(4):
        write(docs / f"d{number}.md", f"# Report {number}\n\nReport {number} names Station {number}.\n")
    storm = Reply(429, {"error": {"message": "rate limited", "type": "rate_limit"}}, headers={"Retry-After": "0"})
    provider.replies += [FILM, FILM, storm]
    ponder = make_ponder(**settings(provider))
    report = ponder.ingest([docs])
    assert report.count("ingested") == 4  # the documents are stored whatever the graph does
    assert report.graph.chunks == 2 and "429" in report.graph.error
    assert any("read on the next ingest" in warning for warning in report.warnings)
    provider.replies += [FILM, FILM]
    again = ponder.ingest([docs]).graph
    assert (again.chunks, again.calls, again.error) == (2, 2, None)
    assert len(provider.requests) == 5  # 2 + the refused one + 2: no finished chunk read twice


@pytest.mark.slow
def test_killed_mid_extraction_resumes_where_it_stopped(provider, tmp_path):
    docs = tmp_path / "docs"
    for number in range(6):
        write(docs / f"d{number}.md", f"# Report {number}\n\nReport {number} names Station {number}.\n")
    provider.default = Reply(body=FILM.body, delay_s=0.5)
    env = {**os.environ, **{f"PONDER_{k.upper().replace('.', '__')}": str(v) for k, v in settings(provider).items()}}
    data = tmp_path / "data"
    process = subprocess.Popen([sys.executable, "-m", "ponder.cli", "--data-dir", str(data), "ingest", str(docs)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(provider.requests) < 3 and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    asked_before = len(provider.requests)
    assert 3 <= asked_before < 6
    provider.default = Reply(body=FILM.body)
    from ponder import Ponder

    with Ponder(load_config(env={}, overrides={"data_dir": str(data), **settings(provider)})) as ponder:
        update = ponder.ingest([docs]).graph
        assert ponder.store.graph_counts()["chunks read (llm/fast-chat)"] == 6
    # Only the chunk in flight when killed can be asked twice.
    assert update.chunks == 6 - (asked_before - 1) or update.chunks == 6 - asked_before
    assert len(provider.requests) - asked_before == update.calls == update.chunks


def test_llm_extractor_needs_a_configured_chat_model():
    with pytest.raises(ConfigError, match="graph.extractor = 'llm' needs a configured chat model"):
        load_config(env={}, overrides={"graph.extractor": "llm"})
