"""Engines run the generation stage and hand back :class:`ItemOutcome` in source order.

The runner owns everything around them (run directory, post-processors,
commits), so outputs, cache and resume behave the same on every engine.

- :class:`LocalEngine`: this process, one backend (or a replica pool).
- ``instructgen.engines.ray.RayEngine``: long-lived Ray actors fed blocks of items; imported only
  when a recipe asks for ``[engine] kind = "ray"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from instructgen.cache import CallCache
from instructgen.plugin import Generator
from instructgen.records import BackendIdentity, SourceItem
from instructgen.scheduler import Counters, ItemOutcome, Scheduler


class Engine(Protocol):
    """What the runner needs from an engine."""

    counters: Counters

    @property
    def identity(self) -> BackendIdentity: ...

    def run(self, items: Iterable[tuple[int, SourceItem]],
            cache: CallCache | None) -> Iterator[ItemOutcome]: ...

    def close(self) -> None: ...


class LocalEngine:
    """Runs the scheduler in this process against one backend object."""

    def __init__(self, generator: Generator, generator_name: str, backend: Any, *,
                 run_seed: int, batch_size: int, window: int, max_retries: int, log: Any,
                 owns_backend: bool = True) -> None:
        self.generator, self.generator_name, self.backend = generator, generator_name, backend
        self.run_seed, self.batch_size, self.window = run_seed, batch_size, window
        self.max_retries, self.log = max_retries, log
        self.owns_backend = owns_backend
        self.counters = Counters()

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
