from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ponder.config import ConfigError, load_config
from tests.conftest import write


def test_defaults_use_the_embedded_model_with_completion_prompts() -> None:
    config = load_config(env={})
    assert config.chat.is_embedded
    assert config.chat.effective_prompt_style == "completion"
    assert config.retrieve.top_k == 5
    assert config.data_path.name == "ponder"


def test_file_then_environment_then_overrides(tmp_path: Path) -> None:
    path = write(tmp_path / "ponder.toml", '[chat]\nbase_url = "https://api.deepseek.com/v1"\n'
                                           'model = "deepseek-chat"\n[retrieve]\ntop_k = 8\n')
    config = load_config(path, env={"PONDER_CHAT__MODEL": "deepseek-reasoner", "PONDER_CHAT__API_KEY": "sk-x",
                                    "PONDER_RETRIEVE__TOP_K": "3"},
                         overrides={"retrieve.top_k": 4})
    assert config.chat.base_url == "https://api.deepseek.com/v1"
    assert config.chat.model == "deepseek-reasoner" and config.chat.api_key == "sk-x"
    assert config.retrieve.top_k == 4
    assert config.chat.effective_prompt_style == "chat"


def test_unknown_key_names_the_key_its_file_and_the_valid_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "ponder.toml", "[chat]\nmodle = 'x'\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, env={})
    message = str(error.value)
    assert "'chat.modle'" in message and str(path) in message
    assert "base_url" in message and "model" in message and "prompt_style" in message


def test_reasoner_defaults_to_the_chat_model_with_its_own_budget() -> None:
    config = load_config(env={}, overrides={"chat.base_url": "http://h/v1", "chat.model": "qwen3", "chat.api_key": "k"})
    reasoner = config.role("reasoner")
    assert (reasoner.base_url, reasoner.model, reasoner.api_key) == ("http://h/v1", "qwen3", "k")
    assert reasoner.max_tokens == 2048 and config.role("chat").max_tokens == 512
    config = load_config(env={}, overrides={"chat.base_url": "http://h/v1", "chat.model": "qwen3",
                                            "reasoner.base_url": "http://r/v1", "reasoner.model": "qwq"})
    assert config.role("reasoner").model == "qwq"


def test_model_overrides_by_glob_and_role_defaults() -> None:
    from ponder.llm import resolve_settings

    config = load_config(env={}, overrides={"chat.base_url": "http://h/v1", "chat.model": "deepseek-chat",
                                            "reasoner.base_url": "http://h/v1", "reasoner.model": "deepseek-reasoner"})
    chat, reasoner = resolve_settings(config, "chat"), resolve_settings(config, "reasoner")
    assert chat.temperature is None and chat.structured_output == "json_object"  # DeepSeek: no json_schema
    assert reasoner.temperature == 0.6 and reasoner.structured_output == "text" and not reasoner.force_think
    distill = load_config(
        env={}, overrides={"chat.base_url": "http://h/v1", "chat.model": "DeepSeek-R1-Distill-Qwen-7B",
                   "models": {"*distill*": {"force_think": True, "max_tokens": 3000}}})
    settings = resolve_settings(distill, "reasoner")
    assert settings.force_think and settings.temperature == 0.6 and settings.max_tokens == 3000
    explicit = load_config(env={}, overrides={"chat.base_url": "http://h/v1", "chat.model": "qwq-32b",
                                              "chat.temperature": 0.2})
    assert resolve_settings(explicit, "chat").temperature == 0.2  # the role's own setting wins
    assert resolve_settings(load_config(env={}), "reasoner").temperature == 0.0  # embedded: greedy
    # Tool calls: offered to configured chat endpoints, not to the embedded model or deepseek-reasoner.
    assert chat.tools and not reasoner.tools and not resolve_settings(load_config(env={}), "chat").tools
    no_tools = load_config(env={}, overrides={"chat.base_url": "http://h/v1", "chat.model": "qwen3-8b",
                                              "models": {"qwen3-*": {"tools": False}}})
    assert not resolve_settings(no_tools, "chat").tools
    with pytest.raises(ConfigError, match=r"unknown setting 'models.x.force_thinking'.*force_think"):
        load_config(env={"PONDER_MODELS__X__FORCE_THINKING": "1"})


def test_unknown_section_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown setting 'retriever'.*valid settings in the top level: data_dir"):
        load_config(write(tmp_path / "ponder.toml", "[retriever]\ntop_k = 3\n"), env={})


def test_invalid_choice_lists_valid_choices() -> None:
    with pytest.raises(ConfigError) as error:
        load_config(env={"PONDER_CHAT__PROMPT_STYLE": "fewshot"})
    message = str(error.value)
    assert "chat.prompt_style" in message and "PONDER_CHAT__PROMPT_STYLE" in message
    assert "'auto'" in message and "'chat'" in message and "'completion'" in message and "fewshot" in message


def test_misspelt_environment_variable_is_rejected() -> None:
    with pytest.raises(ConfigError, match="PONDER_RETRIEVE__TOPK"):
        load_config(env={"PONDER_RETRIEVE__TOPK": "3"})
    load_config(env={"PONDER_SHARED": "/data", "HOME": "/root"})  # not settings: ignored


@pytest.mark.parametrize("env, fragment", [
    ({"PONDER_RETRIEVE__TOP_K": "many"}, "retrieve.top_k"),
    ({"PONDER_RETRIEVE__TOP_K": "0"}, "greater than or equal to 1"),
    ({"PONDER_INGEST__CHUNK_OVERLAP": "400"}, "chunk_overlap (400) must be smaller than chunk_size (300)"),
    ({"PONDER_CHAT__BASE_URL": "http://localhost:11434/v1"},
     "invalid setting 'chat' (from environment variable PONDER_CHAT__BASE_URL): Value error, base_url is set"),
    ({"PONDER_RERANKER__PROVIDER": "endpoint"}, "from environment variable PONDER_RERANKER__PROVIDER"),
])
def test_bad_values(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=None) as error:
        load_config(env=env)
    assert fragment in str(error.value)


def test_malformed_toml_and_missing_file_name_the_file(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.toml", "[llm\nmodel = ")
    with pytest.raises(ConfigError, match="broken.toml: not valid TOML"):
        load_config(broken, env={})
    with pytest.raises(ConfigError, match="config file not found: .*nowhere.toml"):
        load_config(tmp_path / "nowhere.toml", env={})


def test_cli_rejects_bad_config_at_start_up(tmp_path: Path) -> None:
    path = write(tmp_path / "ponder.toml", "[retrieve]\ntop_k = 'lots'\n")
    result = subprocess.run([sys.executable, "-m", "ponder.cli", "--config", str(path), "search", "x"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "retrieve.top_k" in result.stderr and "ponder.toml" in result.stderr
