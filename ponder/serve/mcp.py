"""``ponder mcp``: the collections as Model Context Protocol tools (official ``mcp`` SDK), over
stdio or streamable HTTP: ``search``, ``ask`` (with a mode), ``list_collections``, ``list_documents``.

An MCP client (an IDE, an agent) launches it and calls the tools; answers carry their citations
and thinking apart. Over HTTP it listens on ``serve.host`` (loopback by default) without API keys:
put it behind the network boundary you trust, or use ``ponder serve`` for keyed access.

Example::

    server = build_mcp(config)            # an MCPServer
    server.run("stdio")
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, TypeVar

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from ponder.api import NothingToSearch
from ponder.backends import Backends
from ponder.config import Config
from ponder.llm import LLMError
from ponder.reason import MODE_NAMES
from ponder.serve.collections import Collection, CollectionError, Collections
from ponder.serve.openai_chat import chunk_view, citations_json, document_view, grounding_json

T = TypeVar("T")


async def _in_thread(work: Callable[[], T]) -> T:
    """Run blocking work off the event loop; expected failures reach the client as tool errors
    with their message (anything else is reported by the SDK as a crash)."""
    try:
        return await anyio.to_thread.run_sync(work)
    except (CollectionError, NothingToSearch, LLMError, ValueError) as exc:
        raise ToolError(str(exc)) from exc


def build_mcp(config: Config) -> MCPServer:
    backends = Backends(config)
    collections = Collections(config, backends)

    def pick(name: str) -> Collection:
        return collections.get(name or collections.default)

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[None]:
        try:
            yield
        finally:
            collections.close()
            backends.close()

    server = MCPServer("ponder", instructions="Search and ask questions over the user's document collections. "
                       "Answers cite passages as [n]; 'citations' says where each comes from.", lifespan=lifespan)

    @server.tool()
    async def list_collections() -> list[str]:
        """The document collections that can be searched and asked."""
        return collections.names()

    @server.tool()
    async def list_documents(collection: str = "") -> list[dict[str, Any]]:
        """The documents in a collection (default: the default collection): file, type, pages, chunks."""
        def run() -> list[dict[str, Any]]:
            return [document_view(d) for d in pick(collection).ponder.documents()]
        return await _in_thread(run)

    @server.tool()
    async def search(query: str, collection: str = "", top_k: int = 5) -> list[dict[str, Any]]:
        """The passages that best match the query, with file, page and heading."""
        def run() -> list[dict[str, Any]]:
            chosen = pick(collection)
            with chosen.lock.reading():
                return [chunk_view(hit.chunk, chosen.name) | {"score": hit.score}
                        for hit in chosen.ponder.search(query, top_k)]
        return await _in_thread(run)

    @server.tool(description="Answer a question from a collection's documents, with citations. mode: "
                 + ", ".join(MODE_NAMES) + " (empty: the configured mode).")
    async def ask(question: str, collection: str = "", mode: str = "") -> dict[str, Any]:
        def run() -> dict[str, Any]:
            chosen = pick(collection)
            with chosen.lock.reading():
                answer = chosen.ponder.ask(question, mode=mode or None)
            return {"answer": answer.text, "thinking": answer.thinking, "mode": answer.mode, "route": answer.route,
                    "citations": citations_json(answer, chosen.name, chosen.ponder.store.get_chunks),
                    "grounding": grounding_json(answer), "timings": answer.timings}
        return await _in_thread(run)

    return server


def run_mcp(config: Config, transport: str, host: str, port: int) -> None:
    server = build_mcp(config)
    if transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port)
