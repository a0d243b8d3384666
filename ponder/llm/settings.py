"""How to call one model: what the role's config sets explicitly, else per-model overrides, else the
role's defaults.

Built-in overrides follow the providers' documentation: DeepSeek's R1 guidance (temperature about
0.6; its API has no ``json_schema``, and ``deepseek-reasoner`` no JSON mode and no tool calls either), the same
temperature for QwQ and R1 distills. A user's ``[models."pattern"]`` tables win over these.

Example::

    settings = resolve_settings(config, "reasoner")
    settings.temperature, settings.structured_output
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Literal

from ponder.config import Config, ModelOverride

Role = Literal["chat", "reasoner", "judge", "vision"]
StructuredOutput = Literal["grammar", "guided_json", "json_schema", "json_object", "text"]

BUILTIN_OVERRIDES: dict[str, ModelOverride] = {
    "deepseek-chat": ModelOverride(structured_output="json_object"),
    "deepseek-reasoner": ModelOverride(structured_output="text", tools=False),
    "*deepseek-r1*": ModelOverride(temperature=0.6),
    "*r1-distill*": ModelOverride(temperature=0.6),
    "*qwq*": ModelOverride(temperature=0.6),
}
REASONER_TEMPERATURE = 0.6  # DeepSeek's recommendation for R1 (0.5-0.7)


@dataclass(frozen=True)
class ModelSettings:
    role: Role
    model: str  # as configured; the embedded model's name is filled in by the server
    temperature: float | None
    max_tokens: int
    structured_output: StructuredOutput
    force_think: bool
    timeout_s: float
    retries: int
    prompt_style: Literal["chat", "completion"]
    tools: bool = False  # the endpoint takes OpenAI tool calls (function calling)


def resolve_settings(config: Config, role: Role, model_name: str | None = None) -> ModelSettings:
    role_config = config.role(role)
    name = (model_name or role_config.model).lower()
    override = ModelOverride()
    for table in (BUILTIN_OVERRIDES, config.models):
        for pattern, entry in table.items():
            if fnmatch.fnmatch(name, pattern.lower()):
                override = override.model_copy(update=entry.model_dump(exclude_none=True))

    temperature: float | None
    if role_config.temperature is not None:
        temperature = role_config.temperature
    elif override.temperature is not None:
        temperature = override.temperature
    elif role_config.is_embedded:
        temperature = 0.0  # greedy: the small base model rambles when sampled; tests want repeatability
    else:
        temperature = REASONER_TEMPERATURE if role == "reasoner" else None  # None: the provider's default
    return ModelSettings(
        role=role,
        model=role_config.model,
        temperature=temperature,
        max_tokens=(role_config.max_tokens if "max_tokens" in role_config.model_fields_set or not override.max_tokens
                    else override.max_tokens),
        # The embedded llama.cpp server takes a grammar; others are asked for a JSON schema until they refuse.
        structured_output=override.structured_output or ("grammar" if role_config.is_embedded else "json_schema"),
        force_think=bool(override.force_think),
        timeout_s=role_config.timeout_s,
        retries=role_config.retries,
        prompt_style=role_config.effective_prompt_style,
        tools=override.tools if override.tools is not None else role_config.effective_prompt_style == "chat"
        and not role_config.is_embedded,
    )
