"""A small edit run on the fake backend, shared by the report tests."""

from __future__ import annotations

import pytest
from report_runs import answer, edit_recipe

from instructgen.backends.fake import FakeBackend


@pytest.fixture
def edit_run(tmp_path, run_recipe):
    """``edit_run(name, types)`` runs the edit generator into ``tmp_path/name``."""

    def go(name: str = "run", types: tuple[str, ...] = ("replace", "add"), seed: int = 3):
        return run_recipe(edit_recipe(tmp_path, name, list(types), seed),
                          backend=FakeBackend(responder=answer))

    return go
