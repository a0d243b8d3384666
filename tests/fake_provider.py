"""A local HTTP server that replays OpenAI-compatible response shapes, as providers document them.

This is the one allowed fake: it stands in for remote endpoints (DeepSeek, Ollama, vLLM...) that
cannot be reached from here. It serves queued responses in order and records every request.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict -> JSON; str -> sent as is
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    events: list[Any] | None = None  # a server-sent event stream: dicts -> "data: {json}", str -> as is
    event_delay_s: float = 0.0  # pause before each event


@dataclass
class FakeProvider:
    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    disconnects: int = 0  # streams the client hung up on before the end
    default: Reply | None = None  # served when the queue is empty (else HTTP 500)
    respond: Callable[[dict[str, Any]], Reply] | None = None  # or: a reply made from the request's JSON
    max_in_flight: int = 0  # most requests being answered at once
    _in_flight: int = 0

    def start(self) -> FakeProvider:
        provider = self
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                provider.requests.append({
                    "path": self.path, "headers": dict(self.headers),
                    "json": json.loads(self.rfile.read(length) or b"{}"),
                })
                reply = (provider.replies.pop(0) if provider.replies
                         else provider.respond(provider.requests[-1]["json"]) if provider.respond
                         else provider.default or Reply(500, "no reply queued"))
                with provider._lock:
                    provider._in_flight += 1
                    provider.max_in_flight = max(provider.max_in_flight, provider._in_flight)
                try:
                    self._answer(reply)
                finally:
                    with provider._lock:
                        provider._in_flight -= 1

            def _answer(self, reply: Reply) -> None:
                if reply.delay_s:
                    threading.Event().wait(reply.delay_s)
                if reply.events is not None:
                    self._stream(reply)
                    return
                payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = payload.encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, reply: Reply) -> None:
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                try:
                    for event in reply.events:
                        if reply.event_delay_s:
                            threading.Event().wait(reply.event_delay_s)
                        line = event if isinstance(event, str) else "data: " + json.dumps(event, ensure_ascii=False)
                        self.wfile.write((line + "\n\n").encode())
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    provider.disconnects += 1
                self.close_connection = True

            def log_message(self, *_: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that timed out and hung up is expected here, not an error

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def chat_response(content: str | None, reasoning_field: str | None = None, reasoning: str | None = None,
                  usage: dict[str, Any] | None = None, model: str = "deepseek-reasoner") -> dict[str, Any]:
    """A non-streaming /chat/completions body as DeepSeek documents it."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning_field:
        message[reasoning_field] = reasoning
    body: dict[str, Any] = {
        "id": "930c60df-bf64-41c9-a88e-3ec75f81e00e", "object": "chat.completion", "created": 1705651092,
        "model": model, "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def stream_events(content: list[str], reasoning: list[str] = (), reasoning_field: str = "reasoning_content",
                  usage: dict[str, Any] | None = None, done: bool = True,
                  model: str = "deepseek-reasoner") -> list[Any]:
    """A streamed /chat/completions as DeepSeek documents it: reasoning deltas, then content deltas,
    a final chunk with finish_reason, a usage chunk (stream_options.include_usage), ``data: [DONE]``."""
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    events: list[Any] = [chunk({"role": "assistant", "content": None})]
    events += [chunk({reasoning_field: piece, "content": None}) for piece in reasoning]
    events += [chunk({"content": piece}) for piece in content]
    if done:
        events.append(chunk({}, "stop"))
        if usage:
            events.append({"id": "c1", "object": "chat.completion.chunk", "model": model, "choices": [],
                           "usage": usage})
        events.append("data: [DONE]")
    return events
