from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ponder.config import ConfigError, load_config
from tests.conftest import write


def test_defaults_use_the_embedded_model_with_completion_prompts() -> None:
    config = load_config(env={})
    assert config.llm.is_embedded
    assert config.llm.effective_prompt_style == "completion"
    assert config.retrieve.top_k == 5
    assert config.data_path.name == "ponder"


def test_file_then_environment_then_overrides(tmp_path: Path) -> None:
    path = write(tmp_path / "ponder.toml", '[llm]\nbase_url = "https://api.deepseek.com/v1"\n'
                                           'model = "deepseek-chat"\n[retrieve]\ntop_k = 8\n')
    config = load_config(path, env={"PONDER_LLM__MODEL": "deepseek-reasoner", "PONDER_LLM__API_KEY": "sk-x",
                                    "PONDER_RETRIEVE__TOP_K": "3"},
                         overrides={"retrieve.top_k": 4})
    assert config.llm.base_url == "https://api.deepseek.com/v1"
    assert config.llm.model == "deepseek-reasoner" and config.llm.api_key == "sk-x"
    assert config.retrieve.top_k == 4
    assert config.llm.effective_prompt_style == "chat"


def test_unknown_key_names_the_key_its_file_and_the_valid_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "ponder.toml", "[llm]\nmodle = 'x'\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, env={})
    message = str(error.value)
    assert "'llm.modle'" in message and str(path) in message
    assert "base_url" in message and "model" in message and "prompt_style" in message


def test_unknown_section_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown setting 'retriever'.*valid settings in the top level: data_dir"):
        load_config(write(tmp_path / "ponder.toml", "[retriever]\ntop_k = 3\n"), env={})


def test_invalid_choice_lists_valid_choices() -> None:
    with pytest.raises(ConfigError) as error:
        load_config(env={"PONDER_LLM__PROMPT_STYLE": "fewshot"})
    message = str(error.value)
    assert "llm.prompt_style" in message and "PONDER_LLM__PROMPT_STYLE" in message
    assert "'auto'" in message and "'chat'" in message and "'completion'" in message and "fewshot" in message


def test_misspelt_environment_variable_is_rejected() -> None:
    with pytest.raises(ConfigError, match="PONDER_RETRIEVE__TOPK"):
        load_config(env={"PONDER_RETRIEVE__TOPK": "3"})
    load_config(env={"PONDER_SHARED": "/data", "HOME": "/root"})  # not settings: ignored


@pytest.mark.parametrize("env, fragment", [
    ({"PONDER_RETRIEVE__TOP_K": "many"}, "retrieve.top_k"),
    ({"PONDER_RETRIEVE__TOP_K": "0"}, "greater than or equal to 1"),
    ({"PONDER_INGEST__CHUNK_OVERLAP": "400"}, "chunk_overlap (400) must be smaller than chunk_size (300)"),
    ({"PONDER_LLM__BASE_URL": "http://localhost:11434/v1"}, "llm.model is empty"),
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
