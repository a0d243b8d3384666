"""``ponder serve``: the OpenAI-compatible chat API, collections and uploads, API keys, the web page.

Endpoints (all under an ``Authorization: Bearer <key>`` header unless ``serve.require_keys`` is off):

=====================================================  =========================================
``GET  /v1/models``                                    one model per collection × mode
``POST /v1/chat/completions``                          OpenAI chat, streamed (SSE) or not
``GET|POST /v1/collections``                           list / create (``{"name": ...}``)
``DELETE /v1/collections/{c}``                         delete a collection and its files
``GET|POST /v1/collections/{c}/documents``             list / upload (multipart ``files``) → job
``DELETE /v1/collections/{c}/documents/{id}``          remove a document (and its uploaded file)
``GET  /v1/jobs/{id}``                                 an upload's ingestion status
``POST /v1/collections/{c}/search``                    ``{"query": ..., "top_k": 5}`` → hits
``GET  /v1/collections/{c}/chunks/{id}``               a cited chunk with its provenance
``GET  /``                                             the web page
=====================================================  =========================================

Example::

    import uvicorn
    uvicorn.run(create_app(load_config()), host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Sequence

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from ponder.api import NothingToSearch
from ponder.backends import Backends
from ponder.config import Config
from ponder.graph import views
from ponder.graph.export import FORMATS, graph_text
from ponder.llm import Delta, LLMError
from ponder.reason import MODE_NAMES, Cancelled, Progress
from ponder.retrieve import Filter
from ponder.serve.collections import Collection, CollectionError, Collections
from ponder.serve.jobs import IngestJobs
from ponder.serve.keys import OPEN_ACCESS, Access, ApiKey, KeyRejected, open_keys
from ponder.serve.openai_chat import (
    ChatRequestError,
    check_question,
    chunk_json,
    chunk_view,
    completion_json,
    conversation,
    document_view,
    error_json,
    parse_model,
    ponder_extra,
    sources_text,
    sse,
    usage_json,
)
from ponder.types import Answer


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}


class RateLimiter:
    """A token bucket per key: ``per_minute`` requests, refilled evenly; 0 means no limit."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, last refill)
        self._lock = threading.Lock()

    def wait_needed(self, key_id: str) -> float:
        """0 when the request may go now (and counts it); otherwise the seconds until it may."""
        if not self.per_minute:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * self.per_minute / 60)
            if tokens < 1:
                self._buckets[key_id] = (tokens, now)
                return (1 - tokens) * 60 / self.per_minute
            self._buckets[key_id] = (tokens - 1, now)
            return 0.0


class Server:
    """Everything one ``ponder serve`` process holds."""

    def __init__(self, config: Config):
        self.config = config
        self.backends = Backends(config)
        self.collections = Collections(config, self.backends)
        self.jobs = IngestJobs(config.data_path / "jobs", self.collections.registry)
        self.jobs.resume(self.collections.get)
        self.keys = open_keys(config)
        self.limiter = RateLimiter(config.serve.rate_limit_per_minute)
        self.answering = ThreadPoolExecutor(config.serve.max_concurrent_answers, thread_name_prefix="answer")

    def close(self) -> None:
        self.jobs.close()
        self.answering.shutdown(wait=False, cancel_futures=True)
        self.collections.close()
        self.backends.close()
        self.keys.close()


def create_app(config: Config) -> FastAPI:
    server = Server(config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        server.close()

    app = FastAPI(title="Ponder", version="0.1.0", lifespan=lifespan,
                  description="Retrieval-augmented answers from reasoning models, over an OpenAI-compatible API.")
    app.state.server = server
    if config.serve.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=config.serve.cors_origins, allow_methods=["*"],
                           allow_headers=["*"])

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_json(str(exc), exc.code), exc.status, headers=exc.headers)

    @app.exception_handler(CollectionError)
    async def collection_error(_: Request, exc: CollectionError) -> JSONResponse:
        return JSONResponse(error_json(str(exc), "collection_error"), exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:  # unknown path, wrong method
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_json(str(exc.detail), code), exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameter(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return JSONResponse(error_json(f"invalid request: {problems}", "invalid_request"), 400)

    @app.exception_handler(ChatRequestError)
    async def chat_error(_: Request, exc: ChatRequestError) -> JSONResponse:
        return JSONResponse(error_json(str(exc), exc.code), exc.status)

    def caller(request: Request) -> ApiKey:
        if not config.serve.require_keys:
            key = OPEN_ACCESS
        else:
            try:
                key = server.keys.caller(request.headers.get("authorization"))
            except KeyRejected as exc:
                raise ApiError(401, str(exc), exc.code, {"WWW-Authenticate": "Bearer"}) from None
        wait = server.limiter.wait_needed(key.id)
        if wait:
            raise ApiError(429, f"rate limit of {config.serve.rate_limit_per_minute} requests per minute reached "
                                f"for this key; retry in {wait:.1f} s", "rate_limited",
                           {"Retry-After": str(max(1, round(wait)))})
        return key

    def allowed(key: ApiKey, name: str, access: Access) -> Collection:
        # Permission first: a key learns nothing about collections it may not see.
        if not key.can(name, access):
            raise ApiError(403, f"this API key may not {access} collection {name!r}", "forbidden")
        return server.collections.get(name)

    # -- OpenAI-compatible chat -------------------------------------------------------------------
    @app.get("/v1/models")
    def list_models(key: ApiKey = Depends(caller)) -> dict[str, Any]:
        ids = []
        for name in server.collections.names():
            if key.can(name, "read"):
                ids += ["ponder"] if name == server.collections.default else []
                ids += [f"ponder:{name}"] + [f"ponder:{name}:{mode}" for mode in MODE_NAMES]
        return {"object": "list", "data": [{"id": i, "object": "model", "created": 0, "owned_by": "ponder"}
                                           for i in ids]}

    @app.post("/v1/chat/completions", response_model=None, openapi_extra=_body_schema({
        "model": {"type": "string"}, "stream": {"type": "boolean"},
        "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
        "messages": {"type": "array", "items": {"type": "object", "required": ["role", "content"], "properties": {
            "role": {"enum": ["system", "user", "assistant"]}, "content": {"type": "string"}}}}}, ["messages"]))
    async def chat_completions(request: Request, key: ApiKey = Depends(caller)) -> JSONResponse | StreamingResponse:
        body = await _json_body(request)
        model = parse_model(str(body.get("model") or ""), server.collections.default, MODE_NAMES)
        collection = allowed(key, model.collection, "read")
        question, history = conversation(body.get("messages"), config.serve)
        model_name = str(body.get("model") or model.id)
        completion_id = "chatcmpl-" + secrets.token_hex(12)

        def ask(listener: Callable[[Delta | Progress], None] | None, cancelled: threading.Event) -> Answer:
            with collection.lock.reading():
                return collection.ponder.ask(question, mode=model.mode, history=history, stream=listener,
                                             cancelled=cancelled)

        if not body.get("stream"):
            loop = asyncio.get_running_loop()
            try:
                answer = await loop.run_in_executor(server.answering, ask, None, threading.Event())
            except Exception as exc:  # noqa: BLE001 - mapped to an HTTP error below
                raise _answer_error(exc) from exc
            return JSONResponse(completion_json(answer, model_name, collection.name, completion_id,
                                                collection.ponder.store.get_chunks))
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        return StreamingResponse(_stream(server, ask, model_name, collection, completion_id, include_usage),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # -- collections and documents ------------------------------------------------------------------
    @app.get("/v1/collections")
    def list_collections(key: ApiKey = Depends(caller)) -> dict[str, Any]:
        return {"data": [{"name": name, "access": "write" if key.can(name, "write") else "read",
                          "default": name == server.collections.default}
                         for name in server.collections.names() if key.can(name, "read")]}

    @app.post("/v1/collections", status_code=201, openapi_extra=_body_schema({"name": {"type": "string"}},
                                                                                   ["name"]))
    async def create_collection(request: Request, key: ApiKey = Depends(caller)) -> dict[str, Any]:
        name = str((await _json_body(request)).get("name") or "")
        if not key.can(name, "write"):
            raise ApiError(403, f"this API key may not write collection {name!r}", "forbidden")
        return {"name": server.collections.create(name).name}

    @app.delete("/v1/collections/{name}")
    def delete_collection(name: str, key: ApiKey = Depends(caller)) -> dict[str, Any]:
        allowed(key, name, "write")
        server.collections.delete(name)
        return {"deleted": name}

    @app.get("/v1/collections/{name}/documents")
    def list_documents(name: str, key: ApiKey = Depends(caller)) -> dict[str, Any]:
        collection = allowed(key, name, "read")
        return {"data": [document_view(d) for d in collection.ponder.documents()]}

    @app.post("/v1/collections/{name}/documents", status_code=202, openapi_extra=_body_schema({
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}}, media_type="multipart/form-data"))
    async def upload(name: str, request: Request, key: ApiKey = Depends(caller)) -> dict[str, Any]:
        collection = allowed(key, name, "write")
        limits = config.serve
        max_bytes = int(limits.max_upload_mb * 2**20)
        declared = int(request.headers.get("content-length") or 0)
        if declared > max_bytes * limits.max_files_per_upload + 2**20:
            raise ApiError(413, f"the upload is {declared} bytes; at most {limits.max_files_per_upload} files of "
                                f"{limits.max_upload_mb:g} MB each (serve.max_upload_mb)", "too_large")
        form = await request.form(max_files=limits.max_files_per_upload + 1)
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not files:
            raise ApiError(400, "no files: send them as multipart form field 'files'", "no_files")
        if len(files) > limits.max_files_per_upload:
            raise ApiError(413, f"{len(files)} files in one upload; at most {limits.max_files_per_upload} "
                                "(serve.max_files_per_upload)", "too_many_files")
        accepted = {suffix.lower() for suffix in limits.upload_types}
        received: list[tuple[str, bytes]] = []
        for file in files:
            filename = file.filename or ""
            suffix = Path(filename).suffix.lower()
            if suffix not in accepted:
                raise ApiError(415, f"{filename!r}: file type {suffix or '(none)'!r} is not accepted; accepted: "
                                    f"{', '.join(sorted(accepted))} (serve.upload_types)", "unsupported_type")
            data = await file.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise ApiError(413, f"{filename!r} is larger than {limits.max_upload_mb:g} MB (serve.max_upload_mb)",
                               "too_large")
            received.append((filename, data))
        # Every file is checked before any is stored: a rejected upload leaves nothing behind.
        stored = [collection.store_upload(filename, data) for filename, data in received]
        return {"job": server.jobs.submit(collection, stored).to_json()}

    @app.delete("/v1/collections/{name}/documents/{document_id}")
    def delete_document(name: str, document_id: str, key: ApiKey = Depends(caller)) -> dict[str, Any]:
        collection = allowed(key, name, "write")
        return {"deleted": document_id, "file": collection.delete_document(document_id)}

    @app.get("/v1/jobs/{job_id}")
    def job_status(job_id: str, key: ApiKey = Depends(caller)) -> dict[str, Any]:
        job = server.jobs.get(job_id)
        if job is None or not key.can(job.collection, "read"):
            raise ApiError(404, f"no job {job_id!r}", "not_found")
        return job.to_json()

    @app.post("/v1/collections/{name}/search", openapi_extra=_body_schema({
        "query": {"type": "string"}, "top_k": {"type": "integer", "minimum": 1, "maximum": 100},
        "type": {"type": "string", "enum": ["figure", "text"]}}, ["query"]))
    async def search(name: str, request: Request, key: ApiKey = Depends(caller)) -> dict[str, Any]:
        collection = allowed(key, name, "read")
        body = await _json_body(request)
        query = str(body.get("query") or "").strip()
        if not query:
            raise ApiError(400, "'query' is empty", "invalid_request")
        check_question(query, config.serve)
        top_k = body.get("top_k") or config.retrieve.top_k
        if not isinstance(top_k, int) or not 1 <= top_k <= 100:
            raise ApiError(400, "'top_k' must be a whole number from 1 to 100", "invalid_request")
        kind = body.get("type")
        if kind not in (None, "figure", "text"):
            raise ApiError(400, "'type' must be 'figure' or 'text' (or left out)", "invalid_request")
        where = Filter(kind=kind) if kind else None

        def run() -> list[dict[str, Any]]:
            with collection.lock.reading():
                return [chunk_view(hit.chunk, name) | {"score": hit.score, "rank": hit.rank}
                        for hit in collection.ponder.search(query, top_k, where)]
        return {"data": await asyncio.get_running_loop().run_in_executor(server.answering, run)}

    @app.get("/v1/collections/{name}/chunks/{chunk_id}")
    def get_chunk(name: str, chunk_id: str, key: ApiKey = Depends(caller)) -> dict[str, Any]:
        collection = allowed(key, name, "read")
        found = collection.ponder.store.get_chunks([chunk_id])
        if not found:
            raise ApiError(404, f"no chunk {chunk_id!r} in collection {name!r}", "not_found")
        return chunk_view(found[0], name)

    @app.get("/v1/collections/{name}/chunks/{chunk_id}/image", response_model=None)
    def get_figure_image(name: str, chunk_id: str, key: ApiKey = Depends(caller)) -> FileResponse:
        """The PNG crop of a figure passage (same keys and scopes as the passage itself)."""
        collection = allowed(key, name, "read")
        found = collection.ponder.store.get_chunks([chunk_id])
        if not found:
            raise ApiError(404, f"no chunk {chunk_id!r} in collection {name!r}", "not_found")
        if found[0].figure is None:
            raise ApiError(404, f"chunk {chunk_id!r} is a text passage, not a figure", "not_found")
        path = collection.ponder.image_of(found[0])
        if path is None:
            raise ApiError(404, f"no image is stored for {found[0].figure.label()} of chunk {chunk_id!r} (its "
                                "picture could not be read, or it was ingested on another replica)", "not_found")
        return FileResponse(path, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})

    # -- the entity graph ----------------------------------------------------------------------------
    @app.get("/v1/collections/{name}/graph")
    def graph_summary(name: str, top: int = 15, key: ApiKey = Depends(caller)) -> dict[str, Any]:
        collection = allowed(key, name, "read")
        with collection.lock.reading():
            ponder = collection.ponder
            return views.summary(ponder.graph, ponder.communities(), ponder.store, min(max(top, 1), 200))

    @app.get("/v1/collections/{name}/graph/entities/{entity}")
    def graph_entity(name: str, entity: str, limit: int = 20, key: ApiKey = Depends(caller)) -> dict[str, Any]:
        collection = allowed(key, name, "read")
        with collection.lock.reading():
            position, near = views.find(collection.ponder.graph, entity)
            if position is None:
                hint = f"; did you mean: {', '.join(near)}" if near else ""
                raise ApiError(404, f"no entity {entity!r} in collection {name!r}{hint}", "not_found")
            return views.entity(collection.ponder.graph, collection.ponder.store, position, min(max(limit, 1), 200))

    @app.post("/v1/collections/{name}/graph/around", openapi_extra=_body_schema({
        "text": {"type": "string"}, "chunk_ids": {"type": "array", "items": {"type": "string"}}}))
    async def graph_around(name: str, request: Request, key: ApiKey = Depends(caller)) -> dict[str, Any]:
        """The entities of an answer (named in ``text``, or in the chunks ``chunk_ids``) and their neighbours."""
        collection = allowed(key, name, "read")
        body = await _json_body(request)
        chunk_ids = body.get("chunk_ids") or []
        if not isinstance(chunk_ids, list) or not all(isinstance(i, str) for i in chunk_ids):
            raise ApiError(400, "'chunk_ids' must be a list of chunk ids", "invalid_request")
        with collection.lock.reading():
            ponder = collection.ponder
            return views.around(ponder.graph, str(body.get("text") or ""), ponder.store.get_chunks(chunk_ids[:50]))

    @app.get("/v1/collections/{name}/graph/export", response_model=None)
    def graph_export(name: str, format: str = "graphml", key: ApiKey = Depends(caller)) -> Response:
        collection = allowed(key, name, "read")
        if f".{format}" not in FORMATS:
            raise ApiError(400, f"unknown format {format!r}; use one of: graphml, json", "invalid_request")
        with collection.lock.reading():
            ponder = collection.ponder
            text, _ = graph_text(ponder.graph, ponder.communities(), ponder.store, f".{format}")
        media = "application/json" if format == "json" else "application/graphml+xml"
        return Response(text, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="{name}-graph.{format}"'})

    # -- the web page --------------------------------------------------------------------------------
    page = resources.files("ponder.serve").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def web_page() -> str:
        return page

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, Any]:
        return {"status": "ok", "keys_required": config.serve.require_keys}

    return app


async def _stream(server: Server, ask: Callable[..., Answer], model: str, collection: Collection, completion_id: str,
                  include_usage: bool) -> AsyncIterator[bytes]:
    """The answer as server-sent events, DeepSeek's way: ``reasoning_content`` deltas (the thinking,
    and a line per search made), then ``content``; the final chunk carries ``ponder`` (citations).
    A client that goes away stops the answer, and the upstream call with it. A failure ends the
    stream with an ``error`` event."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    cancelled = threading.Event()

    def put(kind: str, item: Any) -> None:
        loop.call_soon_threadsafe(events.put_nowait, (kind, item))

    def work() -> None:
        try:
            put("done", ask(lambda item: put("delta", item), cancelled))
        except Cancelled:
            pass
        except Exception as exc:  # noqa: BLE001 - reported to the client as an error event
            put("error", exc)

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        return sse(chunk_json(completion_id, model, delta, finish, **extra))

    loop.run_in_executor(server.answering, work)
    streamed_answer = False
    try:
        yield chunk({"role": "assistant", "content": ""})
        while True:
            kind, item = await events.get()
            if kind == "delta":
                if isinstance(item, Progress):
                    yield chunk({"reasoning_content": f"› {item.text}\n"})
                elif item.kind == "thinking":
                    yield chunk({"reasoning_content": item.text})
                else:
                    streamed_answer = True
                    yield chunk({"content": item.text})
            elif kind == "done":
                answer: Answer = item
                if not streamed_answer:  # written without a model call (nothing found) or not streamed
                    yield chunk({"content": answer.text})
                sources = sources_text(answer)
                if sources:
                    yield chunk({"content": sources})
                extra = ponder_extra(answer, collection.name, collection.ponder.store.get_chunks)
                yield chunk({}, "stop", ponder=extra)
                if include_usage:
                    yield sse({"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()),
                               "model": model, "choices": [], "usage": usage_json(answer)})
                yield sse("[DONE]")
                return
            else:
                error = _answer_error(item)
                yield sse(error_json(str(error), error.code, "server_error" if error.status >= 500 else
                                     "invalid_request_error"))
                return
    finally:
        cancelled.set()  # the client left (or the answer is done): stop work nobody will read


def _answer_error(exc: BaseException) -> ApiError:
    if isinstance(exc, NothingToSearch):
        return ApiError(400, str(exc), "empty_collection")
    if isinstance(exc, LLMError):
        return ApiError(502, f"the model failed: {exc}", "upstream_error")
    if isinstance(exc, ValueError):
        return ApiError(400, str(exc), "invalid_request")
    return ApiError(500, f"{type(exc).__name__}: {exc}", "internal_error")


def _body_schema(properties: dict[str, Any], required: Sequence[str] = (),
                 media_type: str = "application/json") -> dict[str, Any]:
    """A request body for the OpenAPI schema, for routes that read their body themselves (to answer
    with OpenAI-shaped errors): clients and the fuzz test see what they may send."""
    schema = {"type": "object", "properties": properties, "required": list(required)}
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise ApiError(400, f"the request body is not JSON: {exc}", "invalid_json") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object", "invalid_json")
    return body
