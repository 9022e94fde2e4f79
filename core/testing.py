"""Pytest fixtures and helpers for plugin authors (and our own tests).

Enable them in a ``conftest.py``::

    pytest_plugins = ["instructgen.testing"]

Fixtures: ``registry`` (a fresh registry with builtins, entry points off),
``registry_with`` (the same plus your plugin objects), ``fake_backend``
(the ``fake`` backend plugin: scripted, recording), ``run_recipe`` (runs a
recipe mapping in a temporary folder and returns the summary and records).
:func:`load_recipe_file` reads a recipe file for ``run_recipe``, leaving its
output to the temporary folder.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, cast

import attrs
import pytest

from .api import run
from .backend import Backend
from .canonical import converter
from .counters import RunSummary
from .manager import PluginRegistry, make_registry
from .records import OutputRecord, Rejection


@attrs.frozen
class RunResult:
    """What :func:`run_recipe` returns: the summary and the files, read back."""

    summary: RunSummary
    run_dir: Path
    records: list[OutputRecord]
    rejections: list[Rejection]

    @property
    def data(self) -> list[dict[str, Any]]:
        return [dict(r.data) for r in self.records]

    @property
    def manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.run_dir / "manifest.json").read_text())
        return data


def read_run(run_dir: Path, summary: RunSummary) -> RunResult:
    def lines(name: str, cls: type) -> list[Any]:
        path = run_dir / name
        if not path.exists():
            return []
        return [converter.structure(json.loads(x), cls) for x in path.read_text().splitlines()
                if x.strip()]

    return RunResult(summary, run_dir, lines("records.jsonl", OutputRecord),
                     lines("rejects.jsonl", Rejection))


def run_recipe(
    recipe: Mapping[str, Any],
    tmp_path: Path,
    *,
    backend: Backend | None = None,
    plugins: Iterable[object] = (),
    **kwargs: Any,
) -> RunResult:
    """Run ``recipe`` with its ``output_dir`` and cache under ``tmp_path``."""
    data = dict(recipe)
    data.setdefault("output_dir", str(tmp_path / "run"))
    data.setdefault("cache", {"path": str(tmp_path / "cache.sqlite")})
    summary = run(data, plugins=plugins, backend=backend, autoload=False, **kwargs)
    return read_run(Path(data["output_dir"]), summary)


def load_recipe_file(path: str | Path) -> dict[str, Any]:
    """A TOML recipe as a mapping for :func:`run_recipe`, without its output folder and cache.

    ``run_recipe`` then puts both under the test's temporary folder, so a
    recipe shipped with a package can be run in its tests without writing
    next to it.
    """
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    data.pop("output_dir", None)
    cache = data.get("cache")
    if isinstance(cache, dict):
        cache.pop("path", None)
        if not cache:
            data.pop("cache")
    return data


@pytest.fixture
def registry() -> PluginRegistry:
    """A fresh plugin registry: builtins only, entry points off."""
    return make_registry(autoload=False)


@pytest.fixture
def registry_with() -> Callable[..., PluginRegistry]:
    """Factory: ``registry_with(my_plugin_module, ...)``, a fresh registry with builtins
    and those plugin objects, entry points off (so an installed copy cannot interfere)."""

    def make(*plugins: object) -> PluginRegistry:
        return make_registry(plugins, autoload=False)

    return make


@pytest.fixture
def fake_backend() -> Callable[..., Backend]:
    """Factory: ``fake_backend(responses={...}, answers=[...], responder=fn)``.

    Builds the ``fake`` backend plugin found in a fresh registry, as a recipe's
    ``backend.name = "fake"`` would, so this kit needs no backend module of its own.
    ``responder`` (a function of the request) answers before any scripted rule.
    """
    spec = make_registry(autoload=False).get("backend", "fake")
    factory = cast(Callable[..., Backend], spec.factory)

    def make(responder: Callable[[Any], Any] | None = None, **options: Any) -> Backend:
        extra = {} if responder is None else {"responder": responder}
        return factory(spec.options(**options), **extra)

    return make


@pytest.fixture(name="run_recipe")
def run_recipe_fixture(tmp_path: Path) -> Callable[..., RunResult]:
    """``run_recipe(recipe_mapping, backend=..., plugins=[...]) -> RunResult``."""

    def go(recipe: Mapping[str, Any], **kwargs: Any) -> RunResult:
        return run_recipe(recipe, tmp_path, **kwargs)

    return go
