"""Run ``ponder serve``'s app on a free loopback port in a background thread, for tests that
need a real HTTP server (the openai client, disconnects, a browser); and ``ponder mcp --http`` as a
child process, with an MCP client that sends a key."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import AsyncIterator

import httpx
import httpx2
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from ponder.config import Config
from ponder.serve.app import create_app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    def __init__(self, config: Config):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(config)
        self._server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                     log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)


def start_mcp_http(config_path: Path, *options: str) -> tuple[subprocess.Popen, str]:
    """``ponder mcp --http`` on a free port, once it answers HTTP (any status); the process and its
    MCP endpoint URL. Its stderr is piped for the caller to read."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "ponder.cli", "--config", str(config_path), "mcp", "--http",
                                "--port", str(port), *options], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url, timeout=1)
            return process, url
        except httpx.TransportError:
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the MCP server did not start"
            time.sleep(0.2)


@contextlib.asynccontextmanager
async def mcp_client(url: str, secret: str | None) -> AsyncIterator[Client]:
    """An MCP client over streamable HTTP sending ``Authorization: Bearer <secret>`` (none when None)."""
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http), read_timeout_seconds=60) as client:
            yield client
