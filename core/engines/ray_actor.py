"""What runs on the Ray cluster: one :class:`GenerationActor` per backend, for the whole run.

Each actor rebuilds the driver's plugin registry (see
:mod:`instructgen.engines.bootstrap`) and the plan from the normalized recipe,
loads one backend and keeps it until the run ends. Blocks of items come from
:class:`~instructgen.engines.ray.RayEngine`; outcomes and counts go back as
plain data, so a block's answers only leave an actor once it is finished.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from instructgen.backend import Backend
from instructgen.cache import CallCache
from instructgen.canonical import converter
from instructgen.counters import Counters, to_blob
from instructgen.errors import UserError
from instructgen.records import SourceItem
from instructgen.scheduler import Scheduler, in_flight_window

from .bootstrap import WorkerRegistry

if TYPE_CHECKING:
    from instructgen.plan import Plan


class RayEngineError(UserError):
    """Ray is missing, or the cluster cannot be reached or cannot hold the actors."""


def _rebuild(mapping: Mapping[str, Any], registry: WorkerRegistry) -> Plan:
    """The driver's plan, resolved again here against the driver's plugins (model names
    become paths on this node)."""
    from instructgen.plan import resolve
    from instructgen.recipe import load_recipe

    return resolve(load_recipe(mapping), registry.build())


class GenerationActor:
    """A Ray actor for the whole run: one generator, one backend, one cache connection.

    Construction never raises: a failure (a missing model, say) is kept and
    raised by :meth:`ready`, so Ray does not restart an actor that cannot start.
    """

    def __init__(self, mapping: Mapping[str, Any], recipe_hash: str,
                 registry: WorkerRegistry) -> None:
        self.backend: Backend | None = None
        self.cache: CallCache | None = None
        self._cache_spec: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self.load_s = 0.0
        try:
            self._setup(mapping, recipe_hash, registry)
        except Exception as exc:
            self.error = exc

    def _setup(self, mapping: Mapping[str, Any], recipe_hash: str,
               registry: WorkerRegistry) -> None:
        from instructgen.logs import quiet_logger
        from instructgen.plugin import RunInfo

        plan = _rebuild(mapping, registry)
        recipe = plan.recipe
        self.recipe, self.generator_name = recipe, plan.generator.spec.name
        self.generator = plan.generator.build()
        self.generator.setup(RunInfo(Path(recipe.output_dir), recipe.seed, recipe_hash,
                                     recipe.max_retries, plan.context))
        started = time.perf_counter()
        self.backend = backend = plan.backend.build()
        self.load_s = round(time.perf_counter() - started, 3)
        self.identity = converter.unstructure(backend.identity)
        self.log = quiet_logger()

    def ready(self) -> dict[str, Any]:
        """This actor's backend identity, model load time and place."""
        if self.error is not None:
            raise self.error
        return {"identity": self.identity, "load_s": self.load_s,
                "node": f"{socket.gethostname()} pid {os.getpid()}"}

    def run_block(self, block: list[tuple[int, dict[str, Any]]],
                  cache: Mapping[str, Any] | None,
                  identity: Mapping[str, Any]) -> dict[str, Any]:
        """Generate one block; outcomes carry the run's item indices."""
        if self.error is not None:
            raise self.error
        if self.identity != dict(identity):  # a restarted actor on a node that changed
            raise RayEngineError(f"a Ray actor built backend {self.identity} but the run uses "
                                 f"{dict(identity)}; install the same versions on every node")
        self._open_cache(cache)
        items = [(k, converter.structure(item, SourceItem)) for k, (_, item) in enumerate(block)]
        assert self.backend is not None  # set by _setup, or self.error is
        counters = Counters()
        recipe = self.recipe
        scheduler = Scheduler(self.generator, self.generator_name, self.backend, self.cache,
                              run_seed=recipe.seed, batch_size=recipe.batch_size,
                              window=in_flight_window(recipe, self.backend),
                              max_retries=recipe.max_retries, log=self.log, counters=counters)
        outcomes = list(scheduler.run(items))
        if self.cache is not None:
            self.cache.flush()
        return {
            "outcomes": [converter.unstructure(attrs.evolve(o, index=block[o.index][0]))
                         for o in outcomes],
            "counters": to_blob(counters),
        }

    def _open_cache(self, spec: Mapping[str, Any] | None) -> None:
        wanted = dict(spec) if spec else None
        if wanted == self._cache_spec:
            return
        if self.cache is not None:
            self.cache.close()
            self.cache = None
        if wanted is not None and self.backend is not None:
            self.cache = CallCache(wanted["path"], self.backend.identity,
                                   readonly=wanted["readonly"])
        self._cache_spec = wanted

    def close(self) -> None:
        """Flush the cache and free the model before the driver ends this actor."""
        if self.cache is not None:
            self.cache.close()
            self.cache = None
        if self.backend is not None:
            self.backend.close()
            self.backend = None
