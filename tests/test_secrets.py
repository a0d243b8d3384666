"""No secret leaks: with a known fake credential in every secret setting, a session of ingest, ask
(including an endpoint that echoes the key in its error), eval and serve leaves the credentials in
no file it writes (calls.db, logs, reports, the index), no output and no HTTP response."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from ponder.config import load_config
from ponder.serve.keys import KeyStore
from tests.conftest import EXAMPLES
from tests.fake_provider import FakeProvider, Reply, chat_response
from tests.live_server import LiveServer

SECRETS = {name: f"sk-{name}-SECRET-0c1d9e7a5b" for name in
           ("chat", "reasoner", "judge", "embedder", "reranker", "milvus", "pdf")}
ECHO = "How long is the oolong roasted? Please echo my key"


def _provider() -> FakeProvider:
    provider = FakeProvider()

    def respond(request: dict) -> Reply:
        if ECHO in json.dumps(request, ensure_ascii=False):  # a provider that quotes the key it was sent
            sent = provider.requests[-1]["headers"].get("Authorization", "")
            return Reply(401, {"error": {"message": f"Incorrect API key provided: {sent}", "code": "invalid_api_key"}})
        return Reply(body=chat_response("It is roasted for eight hours [1].", "reasoning_content", "Passage 1."))
    provider.respond = respond
    return provider.start()


def test_credentials_never_leave_the_config(tmp_path: Path) -> None:
    provider = _provider()
    config_file = tmp_path / "ponder.toml"
    config_file.write_text(f"""data_dir = "{tmp_path / 'data'}"
[retrieve]
mode = "bm25"
[chat]
base_url = "{provider.url}"
model = "fast-chat"
api_key = "{SECRETS['chat']}"
retries = 0
[reasoner]
base_url = "{provider.url}"
model = "deepseek-reasoner"
api_key = "{SECRETS['reasoner']}"
retries = 0
[judge]
api_key = "{SECRETS['judge']}"
[embedder]
api_key = "{SECRETS['embedder']}"
[reranker]
api_key = "{SECRETS['reranker']}"
[vectors]
milvus_token = "{SECRETS['milvus']}"
[ingest.pdf_passwords]
"secret.pdf" = "{SECRETS['pdf']}"
""", encoding="utf-8")
    dataset = tmp_path / "questions.jsonl"
    dataset.write_text(json.dumps({"id": "oolong", "question": "How long is the oolong roasted?",
                                   "answers": ["eight hours"]}) + "\n" + json.dumps(
        {"id": "echo", "question": ECHO, "answers": ["x"]}) + "\n", encoding="utf-8")
    outputs: list[str] = []
    env = {key: value for key, value in os.environ.items() if not key.startswith("PONDER_")}

    def cli(*arguments: str) -> subprocess.CompletedProcess:
        run = subprocess.run([sys.executable, "-m", "ponder.cli", "--config", str(config_file), *arguments],
                             capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
        outputs.extend([run.stdout, run.stderr])
        return run

    try:
        assert cli("ingest", str(EXAMPLES)).returncode == 0
        assert cli("ask", "How long is the oolong roasted?", "--mode", "direct").returncode == 0
        failed = cli("ask", ECHO, "--mode", "reasoner")
        assert failed.returncode != 0 and "HTTP 401" in failed.stderr and "Bearer ***" in failed.stderr
        evaluated = cli("eval", f"jsonl:{dataset}", "--out", str(tmp_path / "eval"), "--mode", "direct")
        assert evaluated.returncode == 0, evaluated.stderr
        assert "api_key = \"***\"" in (tmp_path / "eval" / "report.md").read_text(encoding="utf-8")

        config = load_config(config_file, env={})
        keys = KeyStore(config.data_path / "keys.db")
        serve_key = keys.create("app", write=["*"])[1]
        keys.close()
        with LiveServer(config) as server:
            headers = {"Authorization": f"Bearer {serve_key}"}
            for body in ({"model": "ponder", "messages": [{"role": "user", "content": "oolong roasted?"}]},
                         {"model": "ponder:default:reasoner", "messages": [{"role": "user", "content": ECHO}]},
                         {"model": "ponder", "stream": True, "messages": [{"role": "user", "content": ECHO}]}):
                outputs.append(httpx.post(server.url + "/v1/chat/completions", json=body, headers=headers,
                                          timeout=60).text)
            outputs.append(httpx.get(server.url + "/v1/models", headers=headers).text)
            outputs.append(httpx.get(server.url + "/v1/collections/default/documents", headers=headers).text)
            assert "Bearer ***" in outputs[-4]  # the upstream's echo reached the client, masked
    finally:
        provider.stop()
    sent = {request["headers"].get("Authorization") for request in provider.requests}
    assert sent == {f"Bearer {SECRETS['chat']}", f"Bearer {SECRETS['reasoner']}"}  # the keys were used
    written = [path for path in tmp_path.rglob("*") if path.is_file() and path != config_file]
    assert any(path.name == "calls.db" for path in written) and any(path.suffix == ".html" for path in written)
    for secret in [*SECRETS.values(), serve_key]:
        for path in written:
            assert secret.encode() not in path.read_bytes(), (secret, path)
        for output in outputs:
            assert secret not in output, (secret, output[-500:])
