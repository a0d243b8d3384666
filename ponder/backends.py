"""What answering needs besides an index: the model clients (with at most one embedded model
server), the embedder and the call log, each made on first use.

One :class:`~ponder.api.Ponder` makes its own; the server's collections share one, so that ten
collections still run one embedded model and load the embedder once.

Example::

    backends = Backends(config)
    handbook = Ponder(config.model_copy(update={"data_dir": "handbook"}), backends=backends)
    ...
    backends.close()
"""

from __future__ import annotations

import json
import threading

from ponder.config import Config
from ponder.index.embedders import Embedder, make_embedder
from ponder.llm import CallLog, LocalServer, OpenAICompatibleLLM, Role, make_llm


class Backends:
    def __init__(self, config: Config):
        self.config = config
        self.data_dir = config.data_path
        # Questions may be answered concurrently (ponder eval, the server); retrieval takes
        # milliseconds and the embedder and indexes are not all thread-safe, so it runs one at a time.
        self.search_lock = threading.Lock()
        self._embedder: Embedder | None = None
        self._models: dict[Role, OpenAICompatibleLLM] = {}
        self._embedded: LocalServer | None = None
        self._call_log: CallLog | None = None
        self._lock = threading.RLock()  # things are made on first use, by any thread

    @staticmethod
    def key(config: Config) -> str:
        """Equal for configs whose Backends would be the same (they differ only in, say, the mode's
        settings): such configs can share one."""
        fields = {"data_dir", "chat", "reasoner", "judge", "vision", "embedded", "models", "embedder", "log"}
        return json.dumps(config.model_dump(mode="json", include=fields), sort_keys=True)

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.config.embedder)
            return self._embedder

    def model(self, role: Role = "chat") -> OpenAICompatibleLLM:
        """The client for a model role (``chat`` or ``reasoner``), made on first use."""
        with self._lock:
            if role not in self._models:
                self._models[role] = make_llm(self.config, role, self._local_server, self.call_log)
            return self._models[role]

    def _local_server(self) -> LocalServer:
        if self._embedded is None:
            self._embedded = LocalServer(self.config.embedded, log_path=self.data_dir / "run" / "llama-server.log")
        return self._embedded

    @property
    def call_log(self) -> CallLog | None:
        """Every model call, in ``calls.db`` (``ponder log``); None when ``log.enabled`` is false."""
        with self._lock:
            if self._call_log is None and self.config.log.enabled:
                self._call_log = CallLog(self.data_dir / "calls.db")
            return self._call_log

    def close(self) -> None:
        with self._lock:
            for model in self._models.values():
                model.close()
            self._models.clear()
            if self._embedded is not None:
                self._embedded.close()
                self._embedded = None
            if self._call_log is not None:
                self._call_log.close()
                self._call_log = None
