"""Fixtures of the review tests: a judged fake run, and Debian's Chromium through playwright."""

from __future__ import annotations

from pathlib import Path

import pytest
from review_runs import judged_backend, judged_recipe

CHROMIUM = Path("/usr/bin/chromium")
#: No GPU, no sandbox (containers), and nothing that talks to the network on its own.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def judged_run(tmp_path, run_recipe):
    """``judged_run(name)``: the score-judged edit run of ``review_runs``, in ``tmp_path/name``."""

    def go(name: str = "run", seed: int = 3):
        return run_recipe(judged_recipe(tmp_path, name, seed), backend=judged_backend())

    return go


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium from the system (never a downloaded browser)."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install "
                                      "'instructgen[test]')")
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium "
                    f"(apt-get install chromium; .ci/run does)")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
