"""Reading the settings: defaults, a TOML file, ``PONDER_*`` variables and explicit overrides, in
that order of priority, into one :class:`~ponder.config.settings.Config`; a wrong key or value is a
:class:`ConfigError` naming the key, where it came from and the valid choices."""

from __future__ import annotations

import os
import sys
import typing
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ValidationError

from ponder.config.settings import Config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

ENV_PREFIX = "PONDER_"
# PONDER_* variables that are not settings: the config file's location and the test data folder.
NON_SETTING_ENV = {"PONDER_CONFIG", "PONDER_SHARED"}


class ConfigError(ValueError):
    """A setting is unknown or invalid; the message names it, its source and the valid choices."""


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build the :class:`Config` from defaults, a TOML file, ``PONDER_*`` variables and overrides.

    ``overrides`` uses dotted keys: ``{"data_dir": "/tmp/x", "chat.model": "m"}``.
    """
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    sources: dict[tuple[str, ...], str] = {}

    config_file = _find_config_file(path, env)
    if config_file is not None:
        for key, value in _flatten(_read_toml(config_file)):
            _set(data, key, value)
            sources[key] = str(config_file)

    for name, value in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name in NON_SETTING_ENV:
            continue
        key = tuple(name[len(ENV_PREFIX) :].lower().split("__"))
        _set(data, key, value)
        sources[key] = f"environment variable {name}"

    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        key = tuple(dotted.split("."))
        _set(data, key, value)
        sources[key] = "command line"

    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, sources)) from None


def _find_config_file(path: str | Path | None, env: Mapping[str, str]) -> Path | None:
    if path is None and env.get("PONDER_CONFIG"):
        path = env["PONDER_CONFIG"]
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    local = Path("ponder.toml")
    return local if local.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None


def _flatten(table: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    items: list[tuple[tuple[str, ...], Any]] = []
    for name, value in table.items():
        key = prefix + (name,)
        if isinstance(value, Mapping):
            items.extend(_flatten(value, key))
        else:
            items.append((key, value))
    return items


def _set(data: dict[str, Any], key: tuple[str, ...], value: Any) -> None:
    node = data
    for part in key[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):  # a scalar where a section belongs; let validation name it
            child = node[part] = {}
        node = child
    node[key[-1]] = value


def _section_model(key: tuple[str, ...]) -> type[BaseModel] | None:
    """The model class that holds ``key``'s last part, walking down from :class:`Config`."""
    model: type[BaseModel] = Config
    parts = iter(key[:-1])
    for part in parts:
        field_info = model.model_fields.get(part)
        annotation = field_info.annotation if field_info else None
        if typing.get_origin(annotation) is dict:  # [models."pattern"]: skip the pattern
            annotation = typing.get_args(annotation)[1]
            next(parts, None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _describe(exc: ValidationError, sources: Mapping[tuple[str, ...], str]) -> str:
    lines = []
    for error in exc.errors():
        key = tuple(str(part) for part in error["loc"])
        dotted = ".".join(key) or "(top level)"
        # A whole section's check (say, an endpoint without a model) names whatever set that section.
        source = sources.get(key) or ", ".join(sorted({v for k, v in sources.items() if k[:len(key)] == key}))
        source = source or "defaults"
        if error["type"] == "extra_forbidden":
            section = _section_model(key)
            valid = ", ".join(section.model_fields) if section else "(none)"
            where = f"[{'.'.join(key[:-1])}]" if len(key) > 1 else "the top level"
            lines.append(f"unknown setting '{dotted}' (from {source}); valid settings in {where}: {valid}")
        else:
            got = f" (got {error['input']!r})" if "input" in error and not isinstance(error["input"], dict) else ""
            lines.append(f"invalid setting '{dotted}' (from {source}): {error['msg']}{got}")
    return "configuration error:\n  " + "\n  ".join(lines)
