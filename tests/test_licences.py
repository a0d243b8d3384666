"""The default install's licences, read from the installed distributions' metadata: no strong
copyleft (GPL, AGPL) and no unknown licence beyond the few that tools/licences.py names with their
reason — and none of those named without being installed (the list stays true)."""

from __future__ import annotations

import importlib.metadata as metadata
from pathlib import Path

import pytest

from tools.licences import KNOWN, default_install, licence_of


def test_the_default_install_brings_no_copyleft_or_unknown_licence_it_does_not_name() -> None:
    entries = default_install()
    names = {entry.distribution for entry in entries}
    assert {"ponder", "numpy", "openpyxl", "olefile"} <= names  # the requirement closure was walked
    unexplained = [f"{entry.distribution} {entry.version}: {entry.licence} ({entry.kind})" for entry in entries
                   if entry.kind in ("strong copyleft", "unknown") and entry.distribution not in KNOWN]
    assert unexplained == [], "add a permissive alternative, or name it in tools/licences.py KNOWN with its reason"
    assert sorted(set(KNOWN) - names) == [], "KNOWN names distributions the default install no longer brings"


@pytest.mark.parametrize("fields, kind", [
    ("License-Expression: MIT", "permissive"),
    ("Classifier: License :: OSI Approved :: BSD License", "permissive"),
    ("License: GNU AFFERO GPL 3.0", "strong copyleft"),
    ("Classifier: License :: OSI Approved :: GNU General Public License v3 (GPLv3)", "strong copyleft"),
    ("License-Expression: LGPL-2.1-or-later", "weak copyleft"),
    ("Summary: says nothing of its licence", "unknown"),
])
def test_licences_are_read_from_the_metadata_and_classified(tmp_path: Path, fields: str, kind: str) -> None:
    info = tmp_path / "example-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.4\nName: example\nVersion: 1.0\n{fields}\n", encoding="utf-8")
    assert licence_of("example", metadata.PathDistribution(info)).kind == kind
