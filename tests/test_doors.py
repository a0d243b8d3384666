"""Keys on every door: every route of ``ponder serve`` and every tool of ``ponder mcp --http`` is
walked with no key, a revoked key, a key for another collection and, for writes, a read-only key.
The routes are read from the app itself, so a route added later without a key check fails here."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute

from ponder.api import Ponder
from ponder.config import load_config
from ponder.serve.app import create_app
from ponder.serve.keys import KeyStore
from tests.conftest import EXAMPLES
from tests.fake_provider import FakeProvider, Reply, chat_response
from tests.live_server import LiveServer, mcp_client, start_mcp_http

# Open without a key: the page itself (its data comes through keyed calls), health, the API's schema.
PUBLIC = {"/", "/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
WRITES = {("POST", "/v1/collections"), ("DELETE", "/v1/collections/{name}"),
          ("POST", "/v1/collections/{name}/documents"), ("DELETE", "/v1/collections/{name}/documents/{document_id}")}


@pytest.fixture
def corpus(tmp_path: Path, provider: FakeProvider):
    """Two collections, 'default' (the examples) and 'tea'; keys: admin (all), tea reader, a
    revoked one; the chat model is the replayed provider. Returns (config, secrets, a ponder.toml)."""
    provider.respond = lambda request: Reply(body=chat_response("Eight hours [1]."))
    config = load_config(env={}, overrides={"data_dir": str(tmp_path / "data"), "retrieve.mode": "bm25",
                                            "chat.base_url": provider.url, "chat.model": "fast-chat"})
    with Ponder(config) as ponder:
        ponder.ingest([EXAMPLES])
    tea = tmp_path / "data" / "collections" / "tea" / "index"
    with Ponder(config.model_copy(update={"data_dir": str(tea)})) as ponder:
        ponder.ingest([EXAMPLES / "tea-cooperative.md"])
    keys = KeyStore(tmp_path / "data" / "keys.db")
    secrets = {"admin": keys.create("admin", write=["*"])[1], "tea_reader": keys.create("bot", read=["tea"])[1]}
    revoked, secrets["revoked"] = keys.create("old", write=["*"])
    keys.revoke(revoked.id)
    keys.close()
    path = tmp_path / "ponder.toml"
    path.write_text(f'data_dir = "{config.data_dir}"\n[retrieve]\nmode = "bm25"\n'
                    f'[chat]\nbase_url = "{provider.url}"\nmodel = "fast-chat"\n', encoding="utf-8")
    return config, secrets, path


def _request(server: LiveServer, method: str, path: str, secret: str | None, collection: str) -> httpx.Response:
    url = server.url + re.sub(r"\{name\}", collection, re.sub(r"\{(?!name\})\w+\}", "x", path))
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    body = {"model": f"ponder:{collection}", "messages": [{"role": "user", "content": "hi"}], "query": "oolong",
            "name": collection, "chunk_ids": ["x"]}
    if path.endswith("/documents") and method == "POST":
        return httpx.post(url, headers=headers, files={"files": ("a.txt", b"hello")}, timeout=30)
    return httpx.request(method, url, headers=headers, json=body if method == "POST" else None, timeout=30)


def test_every_route_of_serve_answers_401_or_403_to_the_wrong_key(corpus) -> None:
    config, secrets, _ = corpus
    routes = [(method, route.path) for route in create_app(config).routes if isinstance(route, APIRoute)
              for method in route.methods]
    assert len(routes) >= 15
    with LiveServer(config) as server:
        for method, path in routes:
            if path in PUBLIC:
                continue
            for secret, code in ((None, "missing_api_key"), ("pk-guess", "invalid_api_key"),
                                 (secrets["revoked"], "invalid_api_key")):
                reply = _request(server, method, path, secret, "default")
                assert reply.status_code == 401, (method, path, secret, reply.text)
                assert reply.json()["error"]["code"] == code and reply.headers["www-authenticate"] == "Bearer"
            if "{name}" in path or path in ("/v1/chat/completions", "/v1/collections") and method == "POST":
                other = _request(server, method, path, secrets["tea_reader"], "default")  # tea's key on default
                assert other.status_code == 403, (method, path, other.text)
                assert other.json()["error"]["code"] == "forbidden"
            if (method, path) in WRITES:
                write = _request(server, method, path, secrets["tea_reader"], "tea")  # read-only on tea
                assert write.status_code == 403, (method, path, write.text)
        # what is public stays harmless: the page holds no data, health says only that keys are needed
        assert httpx.get(server.url + "/health").json() == {"status": "ok", "keys_required": True}
        page = httpx.get(server.url + "/").text
        assert "tea-cooperative" not in page and secrets["admin"] not in page
        # a job id of another collection is as unknown as a made-up one
        admin = {"Authorization": f"Bearer {secrets['admin']}"}
        job = httpx.post(server.url + "/v1/collections/default/documents", headers=admin,
                         files={"files": ("b.txt", b"A note about oolong.")}).json()["job"]
        reader = {"Authorization": f"Bearer {secrets['tea_reader']}"}
        assert httpx.get(f"{server.url}/v1/jobs/{job['id']}", headers=reader).status_code == 404


def _mcp_calls(url: str, secret: str | None) -> dict:
    """Each tool's result as the key ``secret`` sees it."""
    async def run() -> dict:
        async with mcp_client(url, secret) as client:
            results = {"collections": (await client.call_tool("list_collections", {})).structured_content}
            for collection in ("default", "tea"):
                for tool, arguments in (("search", {"query": "oolong"}), ("list_documents", {}),
                                        ("ask", {"question": "oolong?", "mode": "direct"})):
                    reply = await client.call_tool(tool, {**arguments, "collection": collection})
                    results[f"{tool} {collection}"] = "error: " + reply.content[0].text if reply.is_error else "ok"
            return results
    return asyncio.run(run())


def test_mcp_over_http_takes_the_same_keys_and_scopes(corpus) -> None:
    _, secrets, path = corpus
    process, url = start_mcp_http(path)
    try:
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
        for secret, code in ((None, "missing_api_key"), ("pk-guess", "invalid_api_key"),
                             (secrets["revoked"], "invalid_api_key")):
            headers = {"Accept": "application/json, text/event-stream"}
            headers |= {"Authorization": f"Bearer {secret}"} if secret else {}
            for method in ("POST", "GET", "DELETE"):
                reply = httpx.request(method, url, json=initialize if method == "POST" else None, headers=headers)
                assert reply.status_code == 401 and reply.json()["error"]["code"] == code, (method, reply.text)
        reader = _mcp_calls(url, secrets["tea_reader"])
        assert reader["collections"] == {"result": ["tea"]}
        assert reader["search tea"] == "ok" and reader["list_documents tea"] == "ok"
        for tool in ("search", "list_documents", "ask"):
            assert reader[f"{tool} default"].endswith("this API key may not read collection 'default'")
        admin = _mcp_calls(url, secrets["admin"])
        assert admin["collections"] == {"result": ["default", "tea"]}
        assert admin["search default"] == "ok" and admin["search tea"] == "ok"
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_mcp_without_keys_says_so_off_loopback(corpus) -> None:
    _, _, path = corpus
    process, url = start_mcp_http(path, "--no-auth", "--host", "0.0.0.0")
    try:
        calls = _mcp_calls(url, None)
        assert calls["collections"] == {"result": ["default", "tea"]} and calls["search default"] == "ok"
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert "no API keys required and listening on 0.0.0.0" in stderr.decode()
