"""The store contract, run against both backends: the local SQLite store and Milvus (Milvus Lite
here). Ingest, the three retrievers, incremental re-ingest, removal, filters, persistence, the
graph, claims and shards for several writers, a write that dies half-way, the server's keys and
collections shared by two servers, and ``ponder migrate``."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from ponder import load_config
from ponder.index.milvus_store import MilvusStore
from ponder.retrieve import Filter
from ponder.serve.keys import open_keys
from tests.conftest import CORPUS, EXAMPLES, write
from tests.live_server import LiveServer

BACKENDS = ["local", "milvus"]


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


def _settings(backend: str, tmp_path: Path, **overrides: object) -> dict[str, object]:
    """One store for every Ponder of a test: with Milvus, the same Lite folder whatever the data dir."""
    return {"store.backend": backend, "store.milvus_uri": str(tmp_path / "milvus.db"), **overrides}


def test_each_retriever_finds_the_right_document_in_both_languages(make_ponder, corpus: Path, tmp_path: Path,
                                                                   backend: str) -> None:
    make_ponder(**_settings(backend, tmp_path)).ingest([corpus])
    for mode in ("bm25", "dense", "hybrid"):
        ponder = make_ponder(**_settings(backend, tmp_path, **{"retrieve.mode": mode}))
        for query, expected in [("Which volcano erupts in Sicily?", "volcano.txt"), ("大熊猫吃什么？", "熊猫.txt"),
                                ("京沪高铁的最高时速是多少", "高铁.txt"), ("SOURDOUGH bread", "bread.md")]:
            hits = ponder.search(query, top_k=3)
            assert hits and Path(hits[0].chunk.path).name == expected, (mode, query)
            assert all(a.score >= b.score for a, b in zip(hits, hits[1:])) and hits[0].retriever == mode
        if mode == "hybrid":
            assert set(ponder.search("Danube countries", top_k=1)[0].ranks) == {"bm25", "dense"}
    assert make_ponder(**_settings(backend, tmp_path, **{"retrieve.mode": "bm25"})).search("quantum", 5) == []


def test_reingest_skips_unchanged_replaces_changed_and_removes(make_ponder, corpus: Path, tmp_path: Path,
                                                              backend: str) -> None:
    ponder = make_ponder(**_settings(backend, tmp_path))
    assert ponder.ingest([corpus]).count("ingested") == len(CORPUS)
    again = ponder.ingest([corpus])
    assert again.count("unchanged") == len(CORPUS) and again.count("ingested") == 0
    old = ponder.search("Etna volcano Sicily", top_k=1)[0].chunk

    write(corpus / "volcano.txt", "Stromboli is a small island volcano north of Sicily that glows at night.")
    changed = ponder.ingest([corpus])
    assert changed.count("ingested") == 1 and changed.count("unchanged") == len(CORPUS) - 1
    assert ponder.store.get_chunks([old.id]) == []
    new = ponder.search("Stromboli island", top_k=1)[0].chunk
    assert new.path == old.path and new.document_id == old.document_id and new.id != old.id
    assert all("Etna" not in hit.chunk.text for hit in ponder.search("Etna", top_k=10))
    assert len(ponder.documents()) == len(CORPUS) and ponder.store.chunk_count() == len(CORPUS)
    assert [c.id for c in ponder.store.chunks_of(new.document_id)] == [new.id]

    removed = ponder.remove([corpus / "volcano.txt"])
    assert removed == [new.path] and ponder.store.get_chunks([new.id]) == []
    assert all("volcano" not in hit.chunk.path for hit in ponder.search("Stromboli volcano", top_k=10))
    (corpus / "river.txt").unlink()
    pruned = ponder.ingest([corpus], prune=True)  # volcano.txt is still there: it comes back
    assert pruned.removed == [str((corpus / "river.txt").resolve())] and pruned.count("ingested") == 1
    assert sorted(Path(d.path).name for d in ponder.documents()) == sorted(set(CORPUS) - {"river.txt"})
    assert ponder.store.vector_count() == ponder.store.chunk_count() == len(CORPUS) - 1


def test_filters_narrow_before_ranking(make_ponder, corpus: Path, tmp_path: Path, backend: str) -> None:
    write(corpus / "river_notes.txt", "The Danube delta is a wetland of reeds where the river meets the sea.")
    os.utime(corpus / "river.txt", (1_600_000_000, 1_600_000_000))  # 2020-09
    ponder = make_ponder(**_settings(backend, tmp_path))
    ponder.ingest([corpus])
    docs = {Path(d.path).name: d for d in ponder.documents()}

    def found(where: Filter) -> set[str]:
        return {Path(hit.chunk.path).name for hit in ponder.search("Danube river sea", top_k=10, where=where)}

    assert found(Filter()) >= {"river.txt", "river_notes.txt"}
    assert found(Filter(path_glob="*.md")) == {"bread.md"}
    assert found(Filter(path_glob="*/river_*.txt")) == {"river_notes.txt"}  # '_' literal, not a wildcard
    assert found(Filter(path_glob="*/river?notes.txt")) == {"river_notes.txt"}
    assert found(Filter(path_glob="*/[r]iver.txt")) == {"river.txt"}
    assert found(Filter(document_ids=(docs["river.txt"].id,))) == {"river.txt"}
    assert found(Filter(document_ids=())) == set()
    assert found(Filter(modified_before=1_700_000_000)) == {"river.txt"}
    assert "river.txt" not in found(Filter(modified_after=1_700_000_000))
    ingested = docs["river.txt"].ingested_at
    assert found(Filter(ingested_after=ingested + 3600)) == set()
    assert found(Filter(ingested_after=ingested - 3600, path_glob="*river*")) == {"river.txt", "river_notes.txt"}


def test_a_new_process_sees_the_same_index(make_ponder, corpus: Path, tmp_path: Path, backend: str) -> None:
    first = make_ponder(tmp_path / "one", **_settings(backend, tmp_path))
    first.ingest([corpus])
    top = [h.chunk.id for h in first.search("长城有多长", top_k=3)]
    first.close()
    # Another data dir: with Milvus nothing local is needed; the local store needs its own folder.
    second_dir = tmp_path / ("two" if backend == "milvus" else "one")
    second = make_ponder(second_dir, **_settings(backend, tmp_path))
    assert [h.chunk.id for h in second.search("长城有多长", top_k=3)] == top
    assert second.ingest([corpus]).count("unchanged") == len(CORPUS)


def test_the_graph_and_the_tokens_are_the_same_on_both_backends(make_ponder, tmp_path: Path) -> None:
    """The graph, and each chunk's BM25 tokens (what distill pairs chunks by when there is no graph)."""
    results = {}
    for backend in BACKENDS:
        ponder = make_ponder(tmp_path / backend, **_settings(backend, tmp_path, **{"retrieve.mode": "graph"}))
        ponder.ingest([EXAMPLES])
        rows = ponder.store.graph_rows()
        results[backend] = (ponder.store.graph_counts(), sorted(rows.names), sorted(rows.relations),
                            [h.chunk.path for h in ponder.search("Hollow Valley Tea Cooperative oolong", top_k=3)],
                            len(ponder.communities()), list(ponder.store.iter_tokens()))
    assert results["local"] == results["milvus"]
    assert results["milvus"][0]["mentions"] > 0 and results["milvus"][3]


def test_claims_keep_two_writers_off_one_document_and_shards_split_a_folder(make_ponder, corpus: Path,
                                                                            tmp_path: Path, backend: str) -> None:
    settings = _settings(backend, tmp_path, **{"retrieve.mode": "bm25"})
    one = make_ponder(tmp_path / "one", **settings)
    other = make_ponder(tmp_path / ("two" if backend == "milvus" else "one"), **settings)
    volcano = one.ingest([corpus / "volcano.txt"]).files[0].document_id
    write(corpus / "volcano.txt", "Vesuvius stands over the bay of Naples.")
    assert one.store.claim(volcano) is None  # one is converting it...
    report = other.ingest([corpus])
    skipped = next(o for o in report.files if o.path.endswith("volcano.txt"))
    assert skipped.status == "skipped" and "another writer" in skipped.message
    assert report.count("ingested") == len(CORPUS) - 1
    one.store.release(volcano)
    assert other.ingest([corpus]).count("ingested") == 1  # ...and once released, the other takes it

    shards = tmp_path / "shards"
    for number in range(12):
        write(shards / f"part-{number:02d}.txt", f"Shard test document {number} about canal locks.")
    taken = [other.ingest([shards], shard=(i, 3)).document_ids for i in (1, 2, 3)]
    assert sum(map(len, taken)) == 12 and len(set().union(*taken)) == 12 and all(taken)
    assert other.ingest([shards]).count("unchanged") == 12


def test_a_write_that_dies_half_way_is_never_seen(make_ponder, corpus: Path, tmp_path: Path) -> None:
    """Milvus has no transactions: the chunks of a new version are written, then the writer dies
    before the document row that makes them visible. Readers keep seeing the old version, whole."""
    ponder = make_ponder(**_settings("milvus", tmp_path))
    ponder.ingest([corpus])
    before = {q: [h.chunk.id for h in ponder.search(q, top_k=3)] for q in ("Etna Sicily", "长城", "Danube")}
    write(corpus / "volcano.txt", "Etna Sicily lava " * 200)  # many chunks, all ranking first for "Etna Sicily"

    store: MilvusStore = ponder.store
    insert = store.insert

    def die_at_the_switch(name: str, rows: list[dict], upsert: bool = True) -> None:
        if name == "documents":
            raise KeyboardInterrupt("killed")
        insert(name, rows, upsert)

    store.insert = die_at_the_switch
    with pytest.raises(KeyboardInterrupt):
        ponder.ingest([corpus / "volcano.txt"])
    store.insert = insert
    assert store.count("chunks") > len(CORPUS)  # the dead writer's rows are there...
    assert {q: [h.chunk.id for h in ponder.search(q, top_k=3)] for q in before} == before  # ...and never returned
    assert store.chunk_count() == len(CORPUS) and len(ponder.documents()) == len(CORPUS)
    assert ponder.ingest([corpus]).count("ingested") == 1  # the next write takes over and clears them
    assert store.count("chunks") == store.chunk_count() > len(CORPUS)
    assert all(len(store.chunks_of(d.id)) == d.chunk_count for d in ponder.documents())


def test_keys_and_collections_are_shared_by_two_servers(tmp_path: Path, backend: str) -> None:
    """Two servers with their own data dirs on one Milvus see each other's keys, collections and
    uploads. (On the local backend two servers share only by sharing a data dir, as here.)"""
    def config(name: str):
        data_dir = tmp_path / (name if backend == "milvus" else "shared")
        return load_config(env={}, overrides={"data_dir": str(data_dir), "retrieve.mode": "bm25",
                                              **_settings(backend, tmp_path)})

    one, two = config("one"), config("two")
    keys = open_keys(one)
    admin = {"Authorization": f"Bearer {keys.create('admin', write=['*'])[1]}"}
    with LiveServer(one) as first, LiveServer(two) as second:
        assert httpx.post(first.url + "/v1/collections", json={"name": "tea-notes"}, headers=admin).status_code == 201
        upload = httpx.post(first.url + "/v1/collections/tea-notes/documents", headers=admin,
                            files=[("files", ("tea.md", (EXAMPLES / "tea-cooperative.md").read_bytes()))])
        assert upload.status_code == 202, upload.text
        job = upload.json()["job"]
        while job.get("status") in ("queued", "running"):
            time.sleep(0.2)
            job = httpx.get(f"{first.url}/v1/jobs/{job['id']}", headers=admin).json()
        assert job.get("status") == "done", job
        listed = httpx.get(second.url + "/v1/collections", headers=admin).json()["data"]
        assert "tea-notes" in [c["name"] if isinstance(c, dict) else c for c in listed]
        hits = httpx.post(second.url + "/v1/collections/tea-notes/search", json={"query": "oolong roasted"},
                          headers=admin).json()["data"]
        assert hits and hits[0]["file"] == "tea.md"
        reader_key, reader = keys.create("reader", read=["tea-notes"])
        bearer = {"Authorization": f"Bearer {reader}"}
        assert httpx.post(second.url + "/v1/collections/tea-notes/search", json={"query": "oolong"},
                          headers=bearer).status_code == 200
        keys.revoke(reader_key.id)
        assert httpx.post(second.url + "/v1/collections/tea-notes/search", json={"query": "oolong"},
                          headers=bearer).status_code == 401
        assert httpx.delete(second.url + "/v1/collections/tea-notes", headers=admin).status_code == 200
        assert "tea-notes" not in str(httpx.get(first.url + "/v1/collections", headers=admin).json()["data"])
    keys.close()


def test_migrate_copies_the_local_index_without_re_embedding(make_ponder, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ponder.cli import app

    data = tmp_path / "data"
    local = make_ponder(data, **{"retrieve.mode": "hybrid"})
    local.ingest([EXAMPLES])
    expected = {q: [h.chunk.id for h in local.search(q, top_k=4)] for q in ("oolong roasting", "图书馆 开放时间")}
    dense = [h.chunk.id for h in make_ponder(data, **{"retrieve.mode": "dense"}).search("oolong roasting", 4)]
    uri = str(tmp_path / "shared-milvus.db")
    result = CliRunner().invoke(app, ["--data-dir", str(data), "migrate", "--to", "milvus", "--uri", uri],
                                env={"PONDER_CONFIG": ""})
    assert result.exit_code == 0, result.output
    assert "vectors: 12 local, 12 in Milvus" in result.output and "MISMATCH" not in result.output

    shutil.rmtree(data / "bm25")  # nothing local is read any more
    moved = make_ponder(tmp_path / "elsewhere", **{"store.backend": "milvus", "store.milvus_uri": uri,
                                                   "retrieve.mode": "dense"})
    assert [h.chunk.id for h in moved.search("oolong roasting", 4)] == dense  # the same vectors, not new ones
    hybrid = make_ponder(tmp_path / "elsewhere", **{"store.backend": "milvus", "store.milvus_uri": uri})
    for query, ids in expected.items():
        assert hybrid.search(query, top_k=1)[0].chunk.id == ids[0]
    assert hybrid.ingest([EXAMPLES]).count("unchanged") == 4
    again = CliRunner().invoke(app, ["--data-dir", str(data), "migrate", "--to", "milvus", "--uri", uri])
    assert again.exit_code == 0 and "0 documents copied, 4 already there" in again.output
    wrong = CliRunner().invoke(app, ["--data-dir", str(data), "migrate", "--to", "postgres"])
    assert wrong.exit_code != 0 and "milvus" in wrong.output


def test_a_keyword_only_index_gains_vectors_with_reindex(make_ponder, corpus: Path, tmp_path: Path,
                                                         backend: str) -> None:
    keyword = make_ponder(**_settings(backend, tmp_path, **{"retrieve.mode": "bm25"}))
    keyword.ingest([corpus])
    assert keyword.store.vector_count() == 0 and keyword.store.chunks_without_vectors()
    dense = make_ponder(**_settings(backend, tmp_path, **{"retrieve.mode": "dense"}))
    assert dense.reindex() == len(CORPUS)
    assert dense.store.vector_count() == len(CORPUS) and dense.store.chunks_without_vectors() == []
    assert Path(dense.search("大熊猫吃什么？", top_k=1)[0].chunk.path).name == "熊猫.txt"
    assert dense.reindex() == 0  # nothing missing: nothing embedded again


def test_one_milvus_hybrid_search_ranks_as_ponders_fusion_with_equal_weights(make_ponder, corpus: Path,
                                                                             tmp_path: Path) -> None:
    from ponder.config import ConfigError

    equal = {"retrieve.bm25_weight": 1.0, "retrieve.dense_weight": 1.0}
    ours = make_ponder(**_settings("milvus", tmp_path, **equal))
    ours.ingest([corpus])
    server = make_ponder(**_settings("milvus", tmp_path, **equal, **{"store.milvus_fusion": "milvus"}))
    for query in ("Which volcano erupts in Sicily?", "长城有多长", "bread rises overnight", "高铁 时速"):
        fused_here = ours.search(query, top_k=4)
        fused_there = server.search(query, top_k=4)
        assert [h.chunk.id for h in fused_there] == [h.chunk.id for h in fused_here], query
        assert [round(h.score, 6) for h in fused_there] == [round(h.score, 6) for h in fused_here]
        assert fused_there[0].ranks == {"hybrid": 1}  # one request: the retrievers' own ranks are not known
    where = Filter(path_glob="*.md")
    assert {Path(h.chunk.path).name for h in server.search("bread volcano", top_k=5, where=where)} == {"bread.md"}
    with pytest.raises(ConfigError, match="retrieve.dense_weight"):
        load_config(env={}, overrides={"store.backend": "milvus", "store.milvus_fusion": "milvus"})


def test_both_stores_offer_everything_the_store_protocol_names() -> None:
    from ponder.index import ChunkStore, Store

    names = [name for name in vars(Store) if not name.startswith("_")]
    assert {"get_chunks", "iter_tokens", "claim", "flush", "graph_rows"} <= set(names)
    for store in (ChunkStore, MilvusStore):
        assert [name for name in names if not hasattr(store, name)] == [], store.__name__


def test_figure_passages_are_kept_filtered_and_named_alike(make_ponder, tmp_path: Path, backend: str) -> None:
    from tests.figure_files import report_html

    page = report_html(tmp_path / "html")
    ponder = make_ponder(**_settings(backend, tmp_path, **{"retrieve.mode": "hybrid", "ingest.figure_ocr": False}))
    ponder.ingest([page])
    for mode in ("bm25", "dense", "hybrid"):
        searcher = make_ponder(**_settings(backend, tmp_path, **{"retrieve.mode": mode}))
        figures = searcher.search("quarterly sales chart by region", top_k=5, where=Filter(kind="figure"))
        assert [hit.chunk.figure.number for hit in figures][:1] == [1], mode
        assert {hit.chunk.kind for hit in figures} == {"figure"}
        texts = searcher.search("quarterly sales chart by region", top_k=5, where=Filter(kind="text"))
        assert texts and {hit.chunk.kind for hit in texts} == {"text"}, mode
    chart = figures[0].chunk.figure
    assert chart.caption == "Figure 1: Quarterly sales by region" and chart.width == 600
    assert ponder.store.image_hashes() == {chart.image}
    assert ponder.figure_image(figures[0].chunk.id).is_file()
