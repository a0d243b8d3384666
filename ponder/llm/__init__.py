"""LLM layer: every model is reached through the OpenAI API over HTTP.

:func:`make_llm` picks the backend from config: a user's endpoint when ``llm.base_url`` is set,
otherwise the embedded model served by a local llama.cpp server.
"""

from __future__ import annotations

from pathlib import Path

from ponder.config import LLMConfig
from ponder.llm.client import Generation, LLMError, OpenAICompatibleLLM, RemoteEndpoint
from ponder.llm.local_server import LocalServer, LocalServerError
from ponder.llm.thinking import split_thinking

__all__ = [
    "Generation", "LLMError", "LocalServer", "LocalServerError", "OpenAICompatibleLLM", "RemoteEndpoint",
    "make_llm", "split_thinking",
]


def make_llm(config: LLMConfig, runtime_dir: Path) -> OpenAICompatibleLLM:
    """The configured model. The embedded server starts lazily, on the first call."""
    if config.is_embedded:
        server = LocalServer(config.embedded, log_path=runtime_dir / "llama-server.log")
        # Greedy decoding by default: the small base model rambles when sampled, and tests want repeatability.
        temperature = 0.0 if config.temperature is None else config.temperature
        return OpenAICompatibleLLM(server, model=server.model_name, timeout_s=config.timeout_s,
                                   prompt_style=config.effective_prompt_style, temperature=temperature)
    return OpenAICompatibleLLM(RemoteEndpoint(config.base_url), model=config.model, api_key=config.api_key,
                               timeout_s=config.timeout_s, prompt_style=config.effective_prompt_style,
                               temperature=config.temperature)
