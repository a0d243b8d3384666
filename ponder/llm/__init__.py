"""LLM layer: every model is reached through the OpenAI API over HTTP, by role.

Roles: ``chat`` (the fast model) and ``reasoner`` (the thinking model; unset, the chat model plays
it). :func:`make_llm` builds a role's client from config: the user's endpoint when the role has a
``base_url``, otherwise the embedded model on a local llama.cpp server (one server, shared).
"""

from __future__ import annotations

from typing import Callable

from ponder.config import Config
from ponder.llm.calllog import CallLog, LoggedCall
from ponder.llm.client import (
    Endpoint,
    Generation,
    GenerationStream,
    LLMError,
    Messages,
    OpenAICompatibleLLM,
    RemoteEndpoint,
    ToolCall,
    without_reasoning,
)
from ponder.llm.local_server import LocalServer, LocalServerError
from ponder.llm.settings import ModelSettings, Role, resolve_settings
from ponder.llm.structured import StructuredResult, ask_json, parse_json_loosely
from ponder.llm.thinking import Delta, ThinkingSplitter, split_thinking

__all__ = [
    "CallLog", "Delta", "Endpoint", "Generation", "GenerationStream", "LLMError", "LocalServer", "LocalServerError",
    "LoggedCall", "Messages", "ModelSettings", "OpenAICompatibleLLM", "RemoteEndpoint", "Role", "StructuredResult",
    "ThinkingSplitter", "ToolCall", "ask_json", "make_llm", "parse_json_loosely", "resolve_settings", "split_thinking",
    "without_reasoning",
]


def make_llm(config: Config, role: Role, local_server: Callable[[], LocalServer],
             log: CallLog | None = None) -> OpenAICompatibleLLM:
    """The client for ``role``. ``local_server`` gives the shared embedded server, made on first
    need; it starts lazily, on the first call."""
    role_config = config.role(role)
    if role_config.is_embedded:
        server = local_server()
        return OpenAICompatibleLLM(server, resolve_settings(config, role, server.model_name),
                                   model=server.model_name, api_key=server.api_key, log=log)
    return OpenAICompatibleLLM(RemoteEndpoint(role_config.base_url), resolve_settings(config, role),
                               api_key=role_config.api_key, log=log)
