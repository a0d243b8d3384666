"""``ponder mcp``: the collections as Model Context Protocol tools (official ``mcp`` SDK), over
stdio or streamable HTTP: ``search``, ``ask`` (with a mode), ``list_collections``, ``list_documents``,
and ``figure`` (a figure passage's picture, as image content).

An MCP client (an IDE, an agent) launches it and calls the tools; answers carry their citations
and thinking apart. Over stdio the caller is the user who launched it and may read everything.
Over HTTP every request needs one of ``ponder serve``'s API keys (``Authorization: Bearer``), and
each tool sees only the collections that key may read; ``serve.require_keys = false`` (``--no-auth``)
opens it to anyone who can reach it.

Example::

    server = build_mcp(config)            # an MCPServer
    server.run("stdio")
    uvicorn.run(mcp_http_app(server, config, keys), port=8001)
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, TypeVar, cast

import anyio
from mcp.server.mcpserver import Context, Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from ponder.api import NothingToSearch
from ponder.backends import Backends
from ponder.config import Config
from ponder.llm import LLMError
from ponder.reason import MODE_NAMES
from ponder.retrieve import Filter
from ponder.retrieve.filters import PassageKind
from ponder.serve.collections import Collection, CollectionError, Collections
from ponder.serve.keys import OPEN_ACCESS, ApiKey, KeyRejected, KeyStore, open_keys
from ponder.serve.openai_chat import (
    chunk_view,
    citations_json,
    conflicts_json,
    document_view,
    error_json,
    grounding_json,
)

T = TypeVar("T")
KEY_SCOPE = "ponder.api_key"  # where mcp_http_app leaves the request's checked key


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

    def pick(ctx: Context, name: str) -> Collection:
        name = name or collections.default
        if not caller(ctx).can(name, "read"):  # before the lookup: a key learns nothing it may not read
            raise ToolError(f"this API key may not read collection {name!r}")
        return collections.get(name)

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
    async def list_collections(ctx: Context) -> list[str]:
        """The document collections that can be searched and asked."""
        key = caller(ctx)
        return [name for name in collections.names() if key.can(name, "read")]

    @server.tool()
    async def list_documents(ctx: Context, collection: str = "") -> list[dict[str, Any]]:
        """The documents in a collection (default: the default collection): file, type, pages, chunks."""
        def run() -> list[dict[str, Any]]:
            return [document_view(d) for d in pick(ctx, collection).ponder.documents()]
        return await _in_thread(run)

    @server.tool()
    async def search(ctx: Context, query: str, collection: str = "", top_k: int = 5,
                     type: str = "") -> list[dict[str, Any]]:  # noqa: A002 - the API's own name
        """The passages that best match the query, with file, page and heading. type: 'figure' for
        figures only (their picture: the figure tool), 'text' for text only, empty for both."""
        if type not in ("", "figure", "text"):
            raise ToolError(f"type {type!r} is not one of: figure, text (or empty)")

        def run() -> list[dict[str, Any]]:
            chosen = pick(ctx, collection)
            where = Filter(kind=cast(PassageKind, type)) if type else None  # checked above
            with chosen.lock.reading():
                return [chunk_view(hit.chunk, chosen.name) | {"score": hit.score}
                        for hit in chosen.ponder.search(query, top_k, where)]
        return await _in_thread(run)

    @server.tool(description="Answer a question from a collection's documents, with citations. mode: "
                 + ", ".join(MODE_NAMES) + " (empty: the configured mode).")
    async def ask(ctx: Context, question: str, collection: str = "", mode: str = "") -> dict[str, Any]:
        def run() -> dict[str, Any]:
            chosen = pick(ctx, collection)
            with chosen.lock.reading():
                answer = chosen.ponder.ask(question, mode=mode or None)
            return {"answer": answer.text, "thinking": answer.thinking, "mode": answer.mode, "route": answer.route,
                    "citations": citations_json(answer, chosen.name, chosen.ponder.store.get_chunks),
                    "grounding": grounding_json(answer), "conflicts": conflicts_json(answer),
                    "timings": answer.timings}
        return await _in_thread(run)

    @server.tool(structured_output=False)  # image content, which has no structured form
    async def figure(ctx: Context, chunk_id: str, collection: str = "") -> list[Any]:
        """The picture of a figure passage (a search hit or citation whose type is 'figure'), as an
        image, with what it is and where."""
        def run() -> list[Any]:
            chosen = pick(ctx, collection)
            found = chosen.ponder.store.get_chunks([chunk_id])
            if not found or found[0].figure is None:
                raise ToolError(f"no figure passage {chunk_id!r} in collection {chosen.name!r}")
            path = chosen.ponder.image_of(found[0])
            view = chunk_view(found[0], chosen.name)
            if path is None:
                raise ToolError(f"no image is stored for {view['figure']['label']} ({view['location']})")
            return [Image(path=path, format="png"), json.dumps({"location": view["location"], **view["figure"]},
                                                               ensure_ascii=False)]
        return await _in_thread(run)

    return server


def caller(ctx: Context) -> ApiKey:
    """Who is calling: the key mcp_http_app checked for this HTTP request, or over stdio the user who
    launched the server. An HTTP request that did not pass the gate is refused (fail closed)."""
    request = ctx.request_context.request
    if request is None:
        return OPEN_ACCESS
    key = getattr(request, "scope", {}).get(KEY_SCOPE)
    if key is None:
        raise ToolError("no API key checked for this request")
    return key


def mcp_http_app(server: MCPServer, config: Config, keys: KeyStore, host: str) -> Callable:
    """The streamable HTTP app behind a key check: a request without a live key gets 401 (shaped as
    ``ponder serve``'s errors) before the MCP layer sees it; a passing request carries its key to
    the tools, which check its collection scopes on every call. The key is checked per request, so
    a key revoked mid-session stops working at once."""
    app = server.streamable_http_app(host=host)

    async def gate(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)  # lifespan
            return
        if not config.serve.require_keys:
            key = OPEN_ACCESS
        else:
            headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
            try:
                key = keys.caller(headers.get("authorization"))
            except KeyRejected as exc:
                body = json.dumps(error_json(str(exc), exc.code)).encode()
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body", "body": body})
                return
        await app({**scope, KEY_SCOPE: key}, receive, send)

    return gate


def run_mcp(config: Config, transport: str, host: str, port: int) -> None:
    server = build_mcp(config)
    if transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    keys = open_keys(config)
    try:
        uvicorn.run(mcp_http_app(server, config, keys, host), host=host, port=port, log_level="warning")
    finally:
        keys.close()
