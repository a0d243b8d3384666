"""Several Ponder processes on one Milvus *server*: two ``ponder serve`` replicas, two ``ponder
ingest`` writers over the same folder, and a writer killed mid-document.

Milvus Lite's ``milvus-lite server`` is started on a free port (a real gRPC Milvus server that
several processes reach); set ``PONDER_TEST_MILVUS_URI`` to run the same tests against a Milvus
standalone or cluster instead. Without either, the tests are skipped and say why.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from ponder import Ponder, load_config
from tests.conftest import EXAMPLES, write
from tests.live_server import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def milvus_uri(tmp_path: Path) -> Iterator[str]:
    if os.environ.get("PONDER_TEST_MILVUS_URI"):
        yield os.environ["PONDER_TEST_MILVUS_URI"]
        return
    if importlib.util.find_spec("milvus_lite") is None:
        pytest.skip("no Milvus server: milvus-lite is not installed and PONDER_TEST_MILVUS_URI is not set")
    from pymilvus import MilvusClient

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(tmp_path / "milvus"),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            MilvusClient(uri, timeout=2).list_collections()
            break
        except Exception:
            assert server.poll() is None, server.stderr.read().decode()
            assert time.monotonic() < deadline, "milvus-lite server did not start"
            time.sleep(0.3)
    yield uri
    server.terminate()
    server.wait(timeout=30)


def _env(uri: str, prefix: str, **settings: str) -> dict[str, str]:
    extra = {f"PONDER_{key.upper().replace('.', '__')}": value for key, value in settings.items()}
    return {**os.environ, "PONDER_CONFIG": "", "PONDER_STORE__BACKEND": "milvus", "PONDER_STORE__MILVUS_URI": uri,
            "PONDER_STORE__COLLECTION_PREFIX": prefix, "PONDER_RETRIEVE__MODE": "bm25", **extra}


def _cli(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "ponder.cli", "--data-dir", str(data_dir), *args]


def _open(uri: str, prefix: str, data_dir: Path) -> Ponder:
    return Ponder(load_config(env={}, overrides={"data_dir": str(data_dir), "store.backend": "milvus",
                                                 "store.milvus_uri": uri, "store.collection_prefix": prefix,
                                                 "retrieve.mode": "bm25"}))


def _corpus(folder: Path, count: int, lines: int = 40) -> Path:
    for number in range(count):
        body = "\n\n".join(f"Report {number} paragraph {line}: the canal lock at mile {line * 7 + number} "
                           f"was repaired; 第{number}号报告第{line}段记录了船闸维修。" for line in range(lines))
        write(folder / f"report-{number:03d}.md", f"# Report {number}\n\n{body}\n")
    return folder


def _no_partial_documents(ponder: Ponder) -> None:
    """Every listed document has all its chunks, and no search returns a chunk of an unlisted one."""
    documents = {d.id: d for d in ponder.documents()}
    assert all(len(ponder.store.chunks_of(doc_id)) == d.chunk_count for doc_id, d in documents.items())
    for hit in ponder.search("canal lock repaired 船闸", top_k=50):
        assert hit.chunk.document_id in documents


def test_two_serve_replicas_share_keys_collections_and_documents(milvus_uri: str, tmp_path: Path) -> None:
    env = _env(milvus_uri, "replicas")
    created = subprocess.run(_cli(tmp_path / "admin", "keys", "create", "ops", "--write", "*"), env=env,
                             capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    secret = next(word for word in created.stdout.split() if word.startswith("pk-"))
    admin = {"Authorization": f"Bearer {secret}"}
    replicas, urls = [], []
    try:
        for name in ("a", "b"):
            port = free_port()
            replicas.append(subprocess.Popen(_cli(tmp_path / name, "serve", "--port", str(port)), env=env,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
            urls.append(f"http://127.0.0.1:{port}")
        for process, url in zip(replicas, urls):
            deadline = time.monotonic() + 90
            while True:
                try:
                    httpx.get(url + "/health", timeout=2)
                    break
                except httpx.TransportError:
                    assert process.poll() is None, process.stderr.read().decode()
                    assert time.monotonic() < deadline, "a replica did not start"
                    time.sleep(0.3)
        a, b = urls
        assert httpx.post(a + "/v1/collections", json={"name": "manuals"}, headers=admin).status_code == 201
        upload = httpx.post(a + "/v1/collections/manuals/documents", headers=admin, timeout=60,
                            files=[("files", ("library.md", (EXAMPLES / "青溪图书馆.md").read_bytes()))])
        job = upload.json()["job"]
        deadline = time.monotonic() + 120
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.3)
            job = httpx.get(f"{a}/v1/jobs/{job['id']}", headers=admin).json()
        assert job["status"] == "done", job
        # Replica b never saw the upload: it reads the job, the collection, the documents and the key from Milvus.
        assert httpx.get(f"{b}/v1/jobs/{job['id']}", headers=admin).json()["status"] == "done"
        assert "manuals" in str(httpx.get(b + "/v1/collections", headers=admin).json())
        documents = httpx.get(b + "/v1/collections/manuals/documents", headers=admin).json()["data"]
        assert [d["file"] for d in documents] == ["library.md"]
        hits = httpx.post(b + "/v1/collections/manuals/search", json={"query": "图书馆 闭馆"}, headers=admin).json()
        assert hits["data"] and hits["data"][0]["file"] == "library.md"
        revoked = subprocess.run(_cli(tmp_path / "admin", "keys", "list"), env=env, capture_output=True, text=True)
        assert "ops" in revoked.stdout
        key_id = revoked.stdout.split("ops")[0].split()[-1]
        subprocess.run(_cli(tmp_path / "admin", "keys", "revoke", key_id), env=env, check=True, capture_output=True)
        assert httpx.get(a + "/v1/collections", headers=admin).status_code == 401
        assert httpx.get(b + "/v1/collections", headers=admin).status_code == 401
    finally:
        for process in replicas:
            process.terminate()
            process.wait(timeout=30)


def test_two_writers_on_one_folder_store_each_document_once(milvus_uri: str, tmp_path: Path) -> None:
    folder = _corpus(tmp_path / "corpus", 24, lines=6)
    env = _env(milvus_uri, "writers", **{"ingest.workers": "1"})
    writers = [subprocess.Popen(_cli(tmp_path / name, "ingest", "--json", str(folder)), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in ("w1", "w2")]
    import json

    reports = []
    for writer in writers:
        stdout, stderr = writer.communicate(timeout=600)
        assert writer.returncode == 0, stderr
        reports.append(json.loads(stdout))
    ingested = [{f["path"] for f in report["files"] if f["status"] == "ingested"} for report in reports]
    assert len(ingested[0] | ingested[1]) == 24  # between them, every file
    with _open(milvus_uri, "writers", tmp_path / "reader") as ponder:
        assert len(ponder.documents()) == 24
        chunk_ids = ponder.store.chunk_ids_of(d.id for d in ponder.documents())
        assert len(chunk_ids) == len(set(chunk_ids)) == ponder.store.chunk_count()
        assert ponder.store.count("chunks") == len(chunk_ids)  # no stray rows either
        _no_partial_documents(ponder)


def test_a_writer_killed_mid_document_leaves_nothing_half_visible(milvus_uri: str, tmp_path: Path) -> None:
    folder = _corpus(tmp_path / "corpus", 16, lines=80)
    env = _env(milvus_uri, "killed", **{"ingest.workers": "1"})
    writer = subprocess.Popen(_cli(tmp_path / "w", "ingest", str(folder)), env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    with _open(milvus_uri, "killed", tmp_path / "reader") as reader:
        deadline = time.monotonic() + 300
        while len(reader.documents()) < 3:
            assert writer.poll() is None and time.monotonic() < deadline, "the writer ended before it was killed"
            time.sleep(0.05)
        time.sleep(0.4)  # into the next document's chunk writes
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        stored = len(reader.documents())
        assert 3 <= stored < 16
        _no_partial_documents(reader)
        rerun = subprocess.run(_cli(tmp_path / "w", "ingest", str(folder)), env=env, capture_output=True, text=True,
                               timeout=600)
        assert rerun.returncode == 0, rerun.stderr
        assert len(reader.documents()) == 16
        _no_partial_documents(reader)
        assert reader.store.count("chunks") == reader.store.chunk_count()  # the dead writer's rows are gone
