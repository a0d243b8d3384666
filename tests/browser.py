"""Headless Chromium for tests: Debian's ``chromium`` driven by Playwright (its own browser download
does not work offline). Flags as the machines need them: no sandbox as root, no background
networking (the closed network refuses it), a fresh profile."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("browser tests need Chromium: apt-get install chromium (the README's test command does)")
    return path


def not_blank(png: Path) -> bool:
    """More than a handful of colours: a page that rendered, not an empty white screen."""
    from PIL import Image

    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    return colours is None or len(colours) > 16


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 900) -> Iterator[tuple[Any, list[str]]]:
    """A page in headless Chromium, and the errors it reports (console errors, uncaught exceptions),
    which the caller checks after the page is closed."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page, errors
        finally:
            browser.close()
