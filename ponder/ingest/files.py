"""Expand the paths a user gives (files and folders, recursively) into a sorted list of files."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable


def collect_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """Files under ``paths`` (hidden files and folders skipped), and the given paths that do not exist."""
    files: list[Path] = []
    missing: list[Path] = []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*")
                       if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
            )
        else:
            missing.append(path)
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return unique, missing
