"""The library entry points: :func:`run` and :func:`iter_records`.

Each call builds its own plugin registry and logger, so runs in one process
never share state.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from instructgen.logs import Log

from .counters import RunSummary
from .manager import PluginRegistry, make_registry
from .plan import Plan, resolve
from .recipe import load_recipe
from .records import OutputRecord
from .runner import Runner

if TYPE_CHECKING:
    from instructgen.backend import Backend

RecipeLike = str | Path | Mapping[str, Any]


def plan(
    recipe: RecipeLike,
    *,
    plugins: Iterable[object] = (),
    overrides: Sequence[str] = (),
    autoload: bool | None = None,
    registry: PluginRegistry | None = None,
    prepare_backend: bool = True,
) -> tuple[Plan, PluginRegistry]:
    """Load and resolve a recipe; returns (plan, registry).

    The registry is a fresh one unless ``registry`` is given (the CLI's, built once
    with its block list). ``prepare_backend=False`` leaves the recipe's backend
    unprepared (no model lookup), for a run handed a ready backend object.
    """
    if registry is None:
        registry = make_registry(plugins, autoload=autoload)
    the_plan = resolve(load_recipe(recipe, overrides), registry, prepare_backend=prepare_backend)
    return the_plan, registry


def run(
    recipe: RecipeLike,
    *,
    plugins: Iterable[object] = (),
    overrides: Sequence[str] = (),
    fresh: bool = False,
    backend: Backend | None = None,
    log: Log | None = None,
    progress: bool = False,
    autoload: bool | None = None,
) -> RunSummary:
    """Run ``recipe`` into its output directory and return the counts.

    ``backend`` replaces the recipe's backend with a ready object (tests,
    notebooks holding a loaded model); ``plugins`` adds plugin objects.

    The run holds its output directory's lock until it ends: a second run on the
    same directory raises :class:`~instructgen.errors.RunDirLocked`. Called from
    the main thread, SIGTERM and SIGHUP (left at their default) stop it like
    Ctrl-C: finished work is saved and :class:`~instructgen.errors.Terminated`, a
    ``KeyboardInterrupt``, is raised. A failed write raises
    :class:`~instructgen.errors.OutputWriteError`; rerunning resumes.
    """
    the_plan, registry = plan(recipe, plugins=plugins, overrides=overrides, autoload=autoload,
                              prepare_backend=backend is None)
    runner = Runner(the_plan, registry, fresh=fresh, backend=backend, log=log, progress=progress)
    return runner.run()


def iter_records(
    recipe: RecipeLike,
    *,
    plugins: Iterable[object] = (),
    overrides: Sequence[str] = (),
    write: bool = False,
    backend: Backend | None = None,
    log: Log | None = None,
    autoload: bool | None = None,
) -> Iterator[OutputRecord]:
    """Stream accepted records. By default nothing is written (a preview)."""
    the_plan, registry = plan(recipe, plugins=plugins, overrides=overrides, autoload=autoload,
                              prepare_backend=backend is None)
    runner = Runner(the_plan, registry, write=write, backend=backend, log=log, progress=False)
    return runner.records()
