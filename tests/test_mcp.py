"""``ponder mcp`` driven by the official MCP SDK's client, over stdio (a child process, as an IDE
launches it) and streamable HTTP. The model behind ``ask`` is the replayed provider."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from ponder.api import Ponder
from ponder.config import load_config
from ponder.serve.keys import KeyStore
from tests.conftest import EXAMPLES
from tests.fake_provider import FakeProvider, Reply, chat_response
from tests.live_server import mcp_client, start_mcp_http


@pytest.fixture
def config_file(tmp_path: Path, provider: FakeProvider) -> Path:
    data = tmp_path / "data"
    path = tmp_path / "ponder.toml"
    path.write_text(f'data_dir = "{data}"\n[retrieve]\nmode = "bm25"\n'
                    f'[chat]\nbase_url = "{provider.url}"\nmodel = "fast-chat"\nretries = 0\n', encoding="utf-8")
    with Ponder(load_config(path, env={})) as ponder:
        ponder.ingest([EXAMPLES])
    return path


async def _exercise(client: Client, provider: FakeProvider) -> None:
    tools = {tool.name for tool in (await client.list_tools()).tools}
    assert tools == {"search", "ask", "list_collections", "list_documents", "figure"}
    collections = await client.call_tool("list_collections", {})
    assert collections.structured_content == {"result": ["default"]}
    documents = (await client.call_tool("list_documents", {})).structured_content["result"]
    assert {d["file"] for d in documents} == {p.name for p in EXAMPLES.iterdir()}
    hits = (await client.call_tool("search", {"query": "oolong roasted", "top_k": 3})).structured_content["result"]
    assert len(hits) == 3 and hits[0]["file"] == "tea-cooperative.md"
    provider.replies.append(Reply(body=chat_response("Eight hours [1].")))
    answer = (await client.call_tool("ask", {"question": "How long is the oolong roasted?", "mode": "direct"}))
    result = answer.structured_content
    assert result["answer"] == "Eight hours [1]." and result["mode"] == "direct"
    assert result["citations"][0]["n"] == 1 and result["citations"][0]["chunk_id"]
    assert result["grounding"]["verdict"] == "supported"
    unknown = await client.call_tool("search", {"query": "x", "collection": "nosuch"})
    assert unknown.is_error and "no collection 'nosuch'" in json.dumps(unknown.model_dump(), ensure_ascii=False)


def test_mcp_over_stdio(config_file: Path, provider: FakeProvider) -> None:
    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "ponder.cli", "--config", str(config_file), "mcp"])

    async def run() -> None:
        async with Client(params, read_timeout_seconds=60) as client:
            await _exercise(client, provider)
    asyncio.run(run())


def test_mcp_over_streamable_http(config_file: Path, provider: FakeProvider) -> None:
    """Over HTTP with one of ponder serve's keys (tests/test_doors.py walks the refusals)."""
    keys = KeyStore(load_config(config_file, env={}).data_path / "keys.db")
    secret = keys.create("ide", read=["*"])[1]
    keys.close()
    process, url = start_mcp_http(config_file)
    try:
        async def run() -> None:
            async with mcp_client(url, secret) as client:
                await _exercise(client, provider)
        asyncio.run(run())
    finally:
        process.terminate()
        process.wait(timeout=20)
