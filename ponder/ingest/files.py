"""Expand the paths a user gives (files and folders, recursively) into a sorted list of files."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable


def in_shard(path: Path, roots: Iterable[str | Path], shard: tuple[int, int]) -> bool:
    """Whether shard ``(i, n)`` (1-based) of a folder ingest owns ``path``: decided by a hash of the
    path relative to the folder given, so machines that mount the folder at different places still
    split it the same way, with no file left out or taken twice."""
    index, count = shard
    resolved = [Path(root).expanduser().resolve() for root in roots]
    relative = next((path.relative_to(root).as_posix() for root in resolved if root.is_dir() and
                     path.is_relative_to(root)), path.name)
    digest = hashlib.blake2b(relative.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count == index - 1


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
