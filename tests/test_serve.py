"""``ponder serve`` over real HTTP: the OpenAI chat API (driven with the official ``openai``
client), collections and uploads, API keys and their scopes, limits, and what happens when a
client leaves or the upstream model fails. The upstream model is the replayed provider (the one
allowed fake: a remote wire format)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import openai
import pytest

from ponder.config import load_config
from ponder.serve.keys import KeyStore
from tests.conftest import EXAMPLES
from tests.fake_provider import FakeProvider, Reply, chat_response, stream_events
from tests.live_server import LiveServer

OOLONG = "How long is the oolong roasted?"


def _config(tmp_path: Path, provider: FakeProvider, **overrides: object):
    return load_config(env={}, overrides={
        "data_dir": str(tmp_path / "data"), "retrieve.mode": "bm25", "chat.base_url": provider.url,
        "chat.model": "fast-chat", "reasoner.base_url": provider.url, "reasoner.model": "deepseek-reasoner",
        "chat.retries": 0, "reasoner.retries": 0, **overrides})


@pytest.fixture
def setup(tmp_path: Path, provider: FakeProvider):
    """A server whose default collection holds the examples and a 'tea' collection with one file;
    keys: admin (everything), tea_reader (reads 'tea' only)."""
    config = _config(tmp_path, provider)
    from ponder.api import Ponder

    with Ponder(config) as ponder:
        ponder.ingest([EXAMPLES])
    tea = tmp_path / "data" / "collections" / "tea"
    with Ponder(config.model_copy(update={"data_dir": str(tea / "index")})) as ponder:
        ponder.ingest([EXAMPLES / "tea-cooperative.md"])
    keys = KeyStore(tmp_path / "data" / "keys.db")
    secrets = {"admin": keys.create("admin", write=["*"])[1], "tea_reader": keys.create("bot", read=["tea"])[1]}
    keys.close()
    with LiveServer(config) as server:
        yield server, secrets


def client(server: LiveServer, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)


def test_models_list_one_per_collection_and_mode_within_the_keys_scope(setup) -> None:
    server, keys = setup
    admin_ids = [m.id for m in client(server, keys["admin"]).models.list()]
    assert admin_ids[0] == "ponder" and "ponder:default:agentic" in admin_ids and "ponder:tea:direct" in admin_ids
    assert len(admin_ids) == 1 + 2 * 8  # the default alias + (collection alone + 7 modes) per collection
    reader_ids = [m.id for m in client(server, keys["tea_reader"]).models.list()]
    assert reader_ids == ["ponder:tea"] + [f"ponder:tea:{mode}" for mode in
                                           ("direct", "reasoner", "think-then-answer", "agentic", "corrective",
                                            "global", "auto")]


def test_chat_answers_with_thinking_apart_and_citations_in_an_extra_field_and_the_content(setup, provider) -> None:
    server, keys = setup
    provider.replies.append(Reply(body=chat_response("Eight hours [1].", "reasoning_content",
                                                     "Passage 1 covers roasting.",
                                                     {"prompt_tokens": 300, "completion_tokens": 20})))
    reply = client(server, keys["admin"]).chat.completions.create(
        model="ponder:tea:reasoner", messages=[{"role": "user", "content": OOLONG}])
    message = reply.choices[0].message
    assert message.content.startswith("Eight hours [1].\n\nSources:\n[1] tea-cooperative.md")
    assert message.model_extra["reasoning_content"] == "Passage 1 covers roasting."
    extra = reply.model_extra["ponder"]
    cited = extra["citations"][0]
    assert extra["mode"] == "reasoner" and extra["collection"] == "tea" and cited["file"] == "tea-cooperative.md"
    assert extra["grounding"]["verdict"] == "supported" and extra["grounding"]["against"] == "cited"
    assert "oolong" in cited["text"].lower() and "/" not in cited["file"]
    chunk = httpx.get(server.url + cited["url"], headers={"Authorization": f"Bearer {keys['admin']}"}).json()
    assert chunk["chunk_id"] == cited["chunk_id"] and chunk["text"] == cited["text"]
    assert reply.usage.prompt_tokens == 300 and reply.usage.completion_tokens == 20


def test_streaming_sends_thinking_as_reasoning_content_before_the_answer(setup, provider) -> None:
    server, keys = setup
    provider.replies.append(Reply(events=stream_events(["Eight ", "hours [1]."], ["Roasting ", "is in [1]."],
                                                       usage={"prompt_tokens": 300, "completion_tokens": 9})))
    stream = client(server, keys["admin"]).chat.completions.create(
        model="ponder:default:reasoner", messages=[{"role": "user", "content": OOLONG}], stream=True,
        stream_options={"include_usage": True})
    kinds, reasoning, content, final, usage = [], "", "", None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        if getattr(delta, "reasoning_content", None):
            kinds.append("thinking")
            reasoning += delta.reasoning_content
        if delta.content:
            kinds.append("answer")
            content += delta.content
        if chunk.choices[0].finish_reason == "stop":
            final = chunk.model_extra["ponder"]
    assert kinds.index("answer") > kinds.index("thinking") and "thinking" not in kinds[kinds.index("answer"):]
    assert reasoning.startswith(f"› search: {OOLONG}") and reasoning.endswith("Roasting is in [1].")
    assert content.startswith("Eight hours [1].\n\nSources:\n[1] ")
    assert final["citations"][0]["n"] == 1 and usage.prompt_tokens == 300


def test_earlier_turns_condition_the_search_but_their_reasoning_never_goes_back(setup, provider) -> None:
    server, keys = setup
    provider.replies += [Reply(body=chat_response("oolong roasting time")),
                         Reply(body=chat_response("Eight hours [1]."))]
    client(server, keys["admin"]).chat.completions.create(model="ponder:tea:direct", messages=[
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Tell me about the oolong."},
        {"role": "assistant", "content": "<think>SECRET-THOUGHT</think>It is roasted [1].",
         "reasoning_content": "OTHER-SECRET"},
        {"role": "user", "content": [{"type": "text", "text": "How long is it roasted?"}]},
    ])
    sent = json.dumps([r["json"] for r in provider.requests])
    assert "SECRET" not in sent and "You are helpful" not in sent
    contextualize, answer = (r["json"]["messages"][-1]["content"] for r in provider.requests)
    assert "user: Tell me about the oolong." in contextualize and "assistant: It is roasted [1]." in contextualize
    assert "oolong roasting time" in answer  # the standalone question is what gets answered


def test_keys_are_required_and_scoped_to_collections(setup, tmp_path: Path) -> None:
    server, keys = setup
    reader = {"Authorization": f"Bearer {keys['tea_reader']}"}
    assert httpx.get(server.url + "/v1/models").status_code == 401
    assert httpx.get(server.url + "/v1/models", headers={"Authorization": "Bearer pk-wrong"}).status_code == 401
    body = {"model": "ponder:default", "messages": [{"role": "user", "content": OOLONG}]}
    forbidden = [
        httpx.post(server.url + "/v1/chat/completions", json=body, headers=reader),
        httpx.post(server.url + "/v1/collections/default/search", json={"query": "oolong"}, headers=reader),
        httpx.get(server.url + "/v1/collections/default/documents", headers=reader),
        httpx.post(server.url + "/v1/collections/tea/documents", headers=reader,  # read-only on tea
                   files={"files": ("a.txt", b"hello")}),
        httpx.get(server.url + "/v1/collections/nosuch/documents", headers=reader),  # existence not revealed
        httpx.post(server.url + "/v1/collections", json={"name": "mine"}, headers=reader),
    ]
    assert [r.status_code for r in forbidden] == [403] * 6
    assert forbidden[0].json()["error"]["code"] == "forbidden"
    assert [c["name"] for c in httpx.get(server.url + "/v1/collections", headers=reader).json()["data"]] == ["tea"]
    hits = httpx.post(server.url + "/v1/collections/tea/search", json={"query": "oolong"}, headers=reader).json()
    assert hits["data"][0]["file"] == "tea-cooperative.md"
    store = KeyStore(tmp_path / "data" / "keys.db")
    assert store.revoke(next(k.id for k in store.list() if k.name == "bot"))
    store.close()
    assert httpx.get(server.url + "/v1/collections", headers=reader).status_code == 401


def _wait_for_job(server: LiveServer, headers: dict, job: dict) -> dict:
    deadline = time.monotonic() + 60
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = httpx.get(f"{server.url}/v1/jobs/{job['id']}", headers=headers).json()
    return job


def test_upload_ingests_in_the_background_and_documents_can_be_listed_and_deleted(setup, tmp_path: Path) -> None:
    server, keys = setup
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    assert httpx.post(server.url + "/v1/collections", json={"name": "manuals"}, headers=admin).status_code == 201
    upload = httpx.post(server.url + "/v1/collections/manuals/documents", headers=admin, files=[
        ("files", ("青溪图书馆.md", (EXAMPLES / "青溪图书馆.md").read_bytes())),
        ("files", ("empty.txt", b"")),
    ])
    assert upload.status_code == 202
    job = _wait_for_job(server, admin, upload.json()["job"])
    assert job["status"] == "done"
    assert {o["file"]: o["status"] for o in job["outcomes"]} == {"青溪图书馆.md": "ingested", "empty.txt": "skipped"}
    documents = httpx.get(server.url + "/v1/collections/manuals/documents", headers=admin).json()["data"]
    assert [d["file"] for d in documents] == ["青溪图书馆.md"] and documents[0]["chunks"] > 0
    hits = httpx.post(server.url + "/v1/collections/manuals/search", json={"query": "图书馆 闭馆"},
                      headers=admin).json()["data"]
    assert hits and hits[0]["file"] == "青溪图书馆.md"
    files_dir = tmp_path / "data" / "collections" / "manuals" / "files"
    assert (files_dir / "青溪图书馆.md").is_file()
    deleted = httpx.delete(f"{server.url}/v1/collections/manuals/documents/{documents[0]['id']}", headers=admin)
    assert deleted.json()["file"] == "青溪图书馆.md" and not (files_dir / "青溪图书馆.md").exists()
    assert httpx.get(server.url + "/v1/collections/manuals/documents", headers=admin).json()["data"] == []
    assert httpx.delete(server.url + "/v1/collections/default", headers=admin).status_code == 409
    assert httpx.post(server.url + "/v1/collections", json={"name": "../x"}, headers=admin).status_code == 400
    assert httpx.delete(server.url + "/v1/collections/manuals", headers=admin).status_code == 200
    assert not (tmp_path / "data" / "collections" / "manuals").exists()


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/passwd.txt", "..\\escape.txt", "a\x00b.txt",
                                  "．．／escape.txt", "..∕escape.txt", "sub⁄name.txt", ".hidden.txt",
                                  "evil\u202etxt.exe.txt"])
def test_a_file_name_is_never_a_path(setup, tmp_path: Path, name: str) -> None:
    server, keys = setup
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    before = {p for p in tmp_path.rglob("*") if p.is_file()}
    # The multipart body by hand: the name's bytes exactly as an attacker would send them (httpx
    # would percent-encode some).
    body = (b'--b0undary\r\nContent-Disposition: form-data; name="files"; filename="' + name.encode("utf-8")
            + b'"\r\nContent-Type: text/plain\r\n\r\nplain text\r\n--b0undary--\r\n')
    response = httpx.post(server.url + "/v1/collections/tea/documents", content=body,
                          headers={**admin, "Content-Type": "multipart/form-data; boundary=b0undary"})
    assert response.status_code == 400, response.text
    assert "not allowed" in response.json()["error"]["message"]
    # Opening the collection may add SQLite's journal files, and nothing else.
    new = [p for p in tmp_path.rglob("*") if p.is_file() and p not in before]
    assert [p for p in new if not p.name.endswith(("-wal", "-shm")) and "calls.db" not in p.name] == []
    assert not (tmp_path / "data" / "collections" / "tea" / "files").exists()


def test_upload_limits_answer_413_and_415(tmp_path: Path, provider: FakeProvider) -> None:
    config = _config(tmp_path, provider, **{"serve.require_keys": False, "serve.max_upload_mb": 0.001,
                                            "serve.max_files_per_upload": 2})
    with LiveServer(config) as server:
        url = server.url + "/v1/collections/default/documents"
        too_big = httpx.post(url, files={"files": ("big.txt", b"x" * 2000)})
        wrong_type = httpx.post(url, files={"files": ("tool.exe", b"MZ")})
        too_many = httpx.post(url, files=[("files", (f"{i}.txt", b"x")) for i in range(3)])
        assert (too_big.status_code, wrong_type.status_code, too_many.status_code) == (413, 415, 413)
        assert "serve.max_upload_mb" in too_big.json()["error"]["message"]
        assert "'.exe'" in wrong_type.json()["error"]["message"]
        accepted = wrong_type.json()["error"]["message"].split("accepted: ")[1]
        assert {".eml", ".xlsx", ".pptx", ".png"} <= set(accepted.split(" (")[0].split(", "))  # all Ponder reads
    assert not (tmp_path / "data" / "uploads").exists() or not any((tmp_path / "data" / "uploads").iterdir())


def test_rate_limit_per_key_and_cors(tmp_path: Path, provider: FakeProvider) -> None:
    config = _config(tmp_path, provider, **{"serve.rate_limit_per_minute": 2,
                                            "serve.cors_origins": ["http://chat.example"]})
    keys = KeyStore(tmp_path / "data" / "keys.db")
    first, second = keys.create("a", read=["*"])[1], keys.create("b", read=["*"])[1]
    keys.close()
    with LiveServer(config) as server:
        def get(key: str) -> httpx.Response:
            return httpx.get(server.url + "/v1/collections", headers={"Authorization": f"Bearer {key}",
                                                                       "Origin": "http://chat.example"})
        statuses = [get(first).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = get(first)
        assert int(limited.headers["retry-after"]) >= 1 and limited.json()["error"]["code"] == "rate_limited"
        assert get(second).status_code == 200  # another key has its own budget
        assert get(second).headers["access-control-allow-origin"] == "http://chat.example"


def test_a_client_that_disconnects_mid_stream_cancels_the_upstream_call(setup, provider) -> None:
    server, keys = setup
    provider.replies.append(Reply(events=stream_events([f"w{i} " for i in range(300)]), event_delay_s=0.02))
    body = {"model": "ponder:tea:direct", "stream": True, "messages": [{"role": "user", "content": OOLONG}]}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body,
                      headers={"Authorization": f"Bearer {keys['admin']}"}) as response:
        for line in response.iter_lines():
            if '"content": "w' in line:
                break  # one answer delta, then hang up
    deadline = time.monotonic() + 10
    while not provider.disconnects and time.monotonic() < deadline:
        time.sleep(0.05)
    assert provider.disconnects == 1
    assert server.app.state.server.backends.call_log.recent(1)[0].error == "cancelled"


def test_an_upstream_failure_mid_stream_ends_with_an_error_event(setup, provider) -> None:
    server, keys = setup
    provider.replies.append(Reply(events=stream_events(["Eight ", "hours"], done=False)))  # cut off, no [DONE]
    stream = client(server, keys["admin"]).chat.completions.create(
        model="ponder:tea:direct", messages=[{"role": "user", "content": OOLONG}], stream=True)
    received = ""
    started = time.monotonic()
    with pytest.raises(openai.APIError, match="the model failed"):
        for chunk in stream:
            if chunk.choices:
                received += chunk.choices[0].delta.content or ""
    assert received == "Eight hours" and time.monotonic() - started < 30


def test_errors_are_openai_shaped(setup) -> None:
    server, keys = setup
    api = client(server, keys["admin"])
    with pytest.raises(openai.NotFoundError, match="unknown mode 'wizard'"):
        api.chat.completions.create(model="ponder:tea:wizard", messages=[{"role": "user", "content": "q"}])
    with pytest.raises(openai.NotFoundError, match="no collection 'nosuch'"):
        api.chat.completions.create(model="ponder:nosuch", messages=[{"role": "user", "content": "q"}])
    with pytest.raises(openai.BadRequestError, match="last message must be a user message"):
        api.chat.completions.create(model="ponder", messages=[{"role": "assistant", "content": "hi"}])
    malformed = httpx.post(server.url + "/v1/chat/completions", json={"model": "ponder", "messages": "hi"},
                           headers={"Authorization": f"Bearer {keys['admin']}"})
    assert malformed.status_code == 400 and "list of message objects" in malformed.json()["error"]["message"]
    not_json = httpx.post(server.url + "/v1/chat/completions", content=b"{oops",
                          headers={"Authorization": f"Bearer {keys['admin']}"})
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_json"


def test_keys_cli_creates_lists_and_revokes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ponder.cli import app

    runner = CliRunner()
    base = ["--data-dir", str(tmp_path)]
    created = runner.invoke(app, [*base, "keys", "create", "support", "--read", "handbook", "--write", "drafts"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    key = KeyStore(tmp_path / "keys.db").check(secret)
    assert key and key.can("handbook", "read") and not key.can("handbook", "write") and key.can("drafts", "write")
    listed = runner.invoke(app, [*base, "keys", "list"]).stdout
    assert f"{key.id}  support  [handbook read, drafts write]" in listed and secret not in listed
    assert runner.invoke(app, [*base, "keys", "revoke", key.id]).exit_code == 0
    assert KeyStore(tmp_path / "keys.db").check(secret) is None
    assert runner.invoke(app, [*base, "keys", "revoke", key.id]).exit_code != 0
    assert runner.invoke(app, [*base, "keys", "create", "nothing"]).exit_code != 0


def test_serve_help_says_how_to_connect_chat_clients() -> None:
    from typer.testing import CliRunner

    from ponder.cli import app

    help_text = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).stdout
    for client_name in ("Open WebUI", "Chatbox", "Cherry Studio", "reasoning_content", "/v1"):
        assert client_name in help_text


def test_an_answer_written_without_a_model_call_still_streams_as_content(setup, provider) -> None:
    server, keys = setup
    stream = client(server, keys["admin"]).chat.completions.create(
        model="ponder:tea:direct", messages=[{"role": "user", "content": "zqxv wplk"}], stream=True)
    content = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert content.startswith("No passage in the indexed documents matches this question")
    assert provider.requests == []  # nothing found: no model was asked to invent an answer


def test_graph_endpoints_within_the_keys_scope(setup) -> None:
    server, keys = setup
    reader = {"Authorization": f"Bearer {keys['tea_reader']}"}
    summary = httpx.get(server.url + "/v1/collections/tea/graph?top=5", headers=reader).json()
    assert summary["entities"] > 0 and summary["top_entities"][0]["chunks"] >= 1 and summary["communities"] >= 1
    name = "Hollow Valley Tea Cooperative"
    entity = httpx.get(server.url + f"/v1/collections/tea/graph/entities/{name.upper()}", headers=reader).json()
    assert entity["name"] == name and entity["chunk_ids"] and entity["neighbours"]
    missing = httpx.get(server.url + "/v1/collections/tea/graph/entities/Hollow", headers=reader)
    assert missing.status_code == 404 and name in missing.json()["error"]["message"]  # suggested
    around = httpx.post(server.url + "/v1/collections/tea/graph/around", headers=reader,
                        json={"text": "Who runs the Hollow Valley Tea Cooperative?", "chunk_ids": entity["chunk_ids"]})
    nodes = around.json()["nodes"]
    assert any(n["seed"] and n["name"] == name for n in nodes) and around.json()["edges"]
    exported = httpx.get(server.url + "/v1/collections/tea/graph/export?format=graphml", headers=reader)
    assert exported.status_code == 200 and exported.text.startswith("<?xml") and "<graphml" in exported.text
    assert httpx.get(server.url + "/v1/collections/tea/graph/export?format=csv", headers=reader).status_code == 400
    for path in ("/graph", "/graph/entities/x", "/graph/export"):  # another collection: 403 before anything
        assert httpx.get(server.url + "/v1/collections/default" + path, headers=reader).status_code == 403
    assert httpx.get(server.url + "/v1/collections/tea/graph").status_code == 401


def test_global_answers_cite_the_chunks_behind_community_reports(setup, provider) -> None:
    server, keys = setup
    # One reply for every call: a summary, an unusable map reply (the report is kept whole), the answer.
    provider.default = Reply(body=chat_response("Tea is roasted over charcoal [1]."))
    reply = client(server, keys["tea_reader"]).chat.completions.create(
        model="ponder:tea:global", messages=[{"role": "user", "content": "What are the main themes?"}])
    extra = reply.model_extra["ponder"]
    assert extra["mode"] == "global"
    assert reply.choices[0].message.content.startswith("Tea is roasted over charcoal [1].")
    assert any(f.startswith("map:") for f in extra["fallbacks"])
    # [1] is a community report; the citations are the collection's real chunks behind it.
    assert extra["citations"] and {c["n"] for c in extra["citations"]} == {1}
    assert all(c["file"] == "tea-cooperative.md" and c["text"] for c in extra["citations"])


def test_a_full_disk_during_an_upload_answers_507_and_leaves_nothing(setup, provider, tmp_path: Path) -> None:
    """The partial file is made to be /dev/full, which answers every write with ENOSPC."""
    server, keys = setup
    provider.replies.append(Reply(body=chat_response("Eight hours [1].")))
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    uploads = tmp_path / "data" / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / ".note.txt.part").symlink_to("/dev/full")
    before = httpx.get(server.url + "/v1/collections/default/documents", headers=admin).json()["data"]
    reply = httpx.post(server.url + "/v1/collections/default/documents", headers=admin,
                       files={"files": ("note.txt", b"A note about green tea.")})
    assert reply.status_code == 507 and "No space left on device" in reply.json()["error"]["message"]
    assert list(uploads.iterdir()) == []
    assert httpx.get(server.url + "/v1/collections/default/documents", headers=admin).json()["data"] == before
    chat = client(server, keys["admin"]).chat.completions.create(
        model="ponder", messages=[{"role": "user", "content": OOLONG}])
    assert chat.choices[0].message.content.startswith("Eight hours")


def test_a_job_left_running_by_a_killed_server_is_resumed_at_start(tmp_path: Path, provider: FakeProvider) -> None:
    """What a SIGKILL leaves: the uploaded file stored, the job saved as running, nothing indexed."""
    config = _config(tmp_path, provider)
    uploads = tmp_path / "data" / "uploads"
    uploads.mkdir(parents=True)
    (uploads / "tea.md").write_bytes((EXAMPLES / "tea-cooperative.md").read_bytes())
    jobs = tmp_path / "data" / "jobs"
    jobs.mkdir()
    (jobs / "0123456789abcdef.json").write_text(json.dumps({
        "id": "0123456789abcdef", "collection": "default", "files": ["tea.md"], "status": "running",
        "outcomes": [], "error": "", "created_at": 1.0, "finished_at": None, "resumed": 0}), encoding="utf-8")
    keys = KeyStore(tmp_path / "data" / "keys.db")
    secret = keys.create("admin", write=["*"])[1]
    keys.close()
    with LiveServer(config) as server:
        headers = {"Authorization": f"Bearer {secret}"}
        job = _wait_for_job(server, headers, {"id": "0123456789abcdef", "status": "queued"})
        assert job["status"] == "done" and job["resumed"] == 1
        assert [o["status"] for o in job["outcomes"]] == ["ingested"]
        documents = httpx.get(server.url + "/v1/collections/default/documents", headers=headers).json()["data"]
        assert [d["file"] for d in documents] == ["tea.md"]
    saved = json.loads((jobs / "0123456789abcdef.json").read_text(encoding="utf-8"))
    assert saved["status"] == "done" and saved["outcomes"][0]["status"] == "ingested"
