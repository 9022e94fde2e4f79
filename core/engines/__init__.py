"""Engines run the generation stage and hand back :class:`ItemOutcome` in source order.

The runner owns everything around them (run directory, post-processors,
commits), so outputs, cache and resume behave the same on every engine.
:func:`choose_engine` is where a recipe's ``[engine]`` and ``backend.replicas``
/ ``backend.isolate`` become one:

- :class:`LocalEngine`: this process, one backend, or a replica pool
  (:mod:`instructgen.engines.replicas`) when ``replicas != 1`` or ``isolate``.
- ``instructgen.engines.ray.RayEngine``: long-lived Ray actors fed blocks of items; imported only
  when a recipe asks for ``[engine] kind = "ray"``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Protocol

from instructgen.backend import Backend, BackendIdentity
from instructgen.cache import CallCache
from instructgen.counters import Counters
from instructgen.logs import Log
from instructgen.plugin import Generator
from instructgen.records import SourceItem
from instructgen.scheduler import ItemOutcome, Scheduler, in_flight_window

if TYPE_CHECKING:
    from instructgen.manager import RegistrySpec
    from instructgen.plan import Plan


class Engine(Protocol):
    """What the runner needs from an engine."""

    #: Where the engine adds backend work up (the run summary, shared with the runner).
    counters: Counters
    #: Seconds each worker took to load its model (recorded in the manifest's session).
    load_times: dict[str, float]

    @property
    def identity(self) -> BackendIdentity: ...

    def run(self, items: Iterable[tuple[int, SourceItem]],
            cache: CallCache | None) -> Iterator[ItemOutcome]: ...

    def close(self) -> None: ...


class LocalEngine:
    """Runs the scheduler in this process against one backend object."""

    def __init__(self, generator: Generator, generator_name: str, backend: Backend, *,
                 run_seed: int, batch_size: int, window: int, max_retries: int, log: Log,
                 owns_backend: bool = True, counters: Counters | None = None,
                 load_times: dict[str, float] | None = None) -> None:
        self.generator, self.generator_name, self.backend = generator, generator_name, backend
        self.run_seed, self.batch_size, self.window = run_seed, batch_size, window
        self.max_retries, self.log = max_retries, log
        self.owns_backend = owns_backend
        self.counters = counters if counters is not None else Counters()
        self.load_times = dict(load_times or {})

    @property
    def identity(self) -> BackendIdentity:
        return self.backend.identity

    def run(self, items: Iterable[tuple[int, SourceItem]],
            cache: CallCache | None) -> Iterator[ItemOutcome]:
        scheduler = Scheduler(
            self.generator, self.generator_name, self.backend, cache,
            run_seed=self.run_seed, batch_size=self.batch_size, window=self.window,
            max_retries=self.max_retries, log=self.log, counters=self.counters,
        )
        return scheduler.run(items)

    def close(self) -> None:
        if self.owns_backend:
            self.backend.close()


def choose_engine(plan: Plan, registry: RegistrySpec, generator: Generator, counters: Counters,
                  *, log: Log, backend: Backend | None = None) -> Engine:
    """The engine a plan asks for, with its model(s) loaded.

    ``[engine] kind = "ray"``: the Ray engine. Otherwise a local engine over
    ``backend`` when the caller hands one in (it stays the caller's to close),
    else a replica pool (``backend.replicas != 1`` or ``backend.isolate``), else
    the plan's backend built here. Workers rebuild the driver's ``registry``.
    """
    recipe = plan.recipe
    if recipe.engine.kind == "ray":
        from .ray import RayEngine

        return RayEngine(plan, registry, counters=counters, log=log)
    load_times: dict[str, float] = {}
    if backend is None and (plan.replicas != 1 or plan.isolate):
        from .bootstrap import WorkerRegistry
        from .replicas import ReplicaPool

        who = "backend.replicas" if plan.replicas != 1 else "backend.isolate"
        travelling = WorkerRegistry.of(registry, who=who)
        pool = ReplicaPool(plan.backend.spec, plan.backend.prepared, plan.replicas,
                           isolate=plan.isolate, registry=travelling)
        built: Backend = pool
        load_times = pool.load_times
    elif backend is None:
        started = time.perf_counter()
        built = plan.backend.build()
        load_times = {"backend": round(time.perf_counter() - started, 3)}
    else:
        built = backend
    return LocalEngine(generator, plan.generator.spec.name, built,
                       run_seed=recipe.seed, batch_size=recipe.batch_size,
                       window=in_flight_window(recipe, built), max_retries=recipe.max_retries,
                       log=log, owns_backend=backend is None, counters=counters,
                       load_times=load_times)
