"""The process :class:`~ponder.llm.local_server.LocalServer` starts: llama.cpp's own HTTP server.

``xllamacpp`` ships llama.cpp (the library and its ``llama-server``) prebuilt in the wheel, so
installing Ponder compiles nothing. Its server speaks the OpenAI API (``/v1/completions``,
``/v1/chat/completions``, ``/v1/models``), streams, honours ``stop``, reports token usage (in the
stream too) and takes a ``grammar`` or a ``json_schema`` per request. It serves from its own
threads; this process waits until SIGTERM or SIGINT, then exits cleanly.

It answers only requests that carry the key in ``$PONDER_LLAMA_API_KEY`` (an environment variable,
not an argument, which any local user could read with ``ps``): llama-server allows every origin,
so without a key any web page open in the user's browser could use the model while Ponder runs.

    PONDER_LLAMA_API_KEY=… python ponder/llm/llama_server.py --model M.gguf --alias NAME --port 8080
"""

from __future__ import annotations

import argparse
import os
import signal
import threading

API_KEY_VARIABLE = "PONDER_LLAMA_API_KEY"


def serve(model: str, alias: str, port: int, n_ctx: int, threads: int, seed: int, api_key: str) -> None:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.api_keys = [api_key] if api_key else []
    params.model.path = model
    params.model_alias = {alias}
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = n_ctx
    params.n_parallel = 1  # one slot with the whole context: Ponder's calls to it are sequential
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.sampling.seed = seed
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server = xllamacpp.Server(params)  # listening once this returns
    print(f"ponder: llama.cpp server for {alias} at {server.listening_address}", flush=True)
    stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a GGUF model with llama.cpp on a loopback port.")
    parser.add_argument("--model", required=True)
    parser.add_argument("--alias", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    serve(arguments.model, arguments.alias, arguments.port, arguments.n_ctx, arguments.threads, arguments.seed,
          os.environ.get(API_KEY_VARIABLE, ""))


if __name__ == "__main__":
    main()
