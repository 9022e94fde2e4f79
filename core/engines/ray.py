"""The Ray Data engine: the generation stage as ``map_batches`` over an actor pool.

Selected by ``[engine] kind = "ray"`` (or ``instructgen run --engine ray``).
The driver reads the source, ships items to a pool of actors in windows, and
gets :class:`~instructgen.scheduler.ItemOutcome` back in source order; the
runner commits them exactly as it commits local outcomes, so records,
rejects, manifest and resume do not depend on the engine.

Each actor rebuilds the plan from the normalized recipe (plugins come from the
packages installed on its node), holds one backend (``num_gpus=1`` on GPU
clusters, CPU actors otherwise) and runs a :class:`~instructgen.scheduler.Scheduler`
over its block of items, with its own connection to the call cache.

Ray is imported only here. A killed actor is restarted by Ray and its block
retried (Ray Data's actor fault tolerance); answers only leave an actor with a
finished block, so nothing is lost or duplicated.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import pickle
import socket
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from instructgen.cache import CallCache
from instructgen.errors import PluginError, UserError
from instructgen.records import BackendIdentity, SourceItem, converter
from instructgen.scheduler import Counters, ItemOutcome, Scheduler

#: Blocks of ``items_per_task`` items per actor in one window: a window is one
#: Ray Dataset (a fresh actor pool), so larger windows pay backend start-up
#: less often; the driver holds one window of items at a time.
BLOCKS_PER_ACTOR = 32
#: Times one block is retried after its actor died before the run fails.
TASK_RETRIES = 3
#: Seconds to wait for a TCP connection to the cluster before calling it unreachable.
CONNECT_TIMEOUT_S = 5.0
_COUNTER_FIELDS = ("backend_calls", "requests", "cache_hits", "prompt_tokens",
                   "completion_tokens", "backend_s")


class RayEngineError(UserError):
    """Ray is missing, or the cluster cannot be reached or cannot hold the actors."""


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise RayEngineError("engine.kind = \"ray\" needs Ray Data: "
                             "pip install 'instructgen[ray]'") from None
    return ray


class RayEngine:
    """Runs the generation stage on a Ray cluster (or a local Ray instance)."""

    def __init__(self, plan: Any, *, log: Any) -> None:
        self.plan, self.log = plan, log
        self.config = plan.recipe.engine
        self.counters = Counters()
        _check_installed(plan)
        self._ray = ray = _import_ray()
        self.address = self.config.ray_address
        self._owns_ray = _connect(ray, self.address)
        self.num_cpus, self.num_gpus = _placement(ray, self.config, log)
        self._mapping = _actor_recipe(plan.normalized(), self.num_cpus, self.num_gpus)
        self._identity = self._probe()
        log.info("ray_engine_ready", address=self.address or "local", actors=self.config.actors,
                 actor_cpus=self.num_cpus, actor_gpus=self.num_gpus)

    @property
    def identity(self) -> BackendIdentity:
        return self._identity

    def run(self, items: Iterable[tuple[int, SourceItem]],
            cache: CallCache | None) -> Iterator[ItemOutcome]:
        """Outcomes in the order of ``items``, one window of items at a time."""
        cache_spec = None if cache is None else {"path": str(cache.path),
                                                 "readonly": cache.readonly}
        cfg = self.config
        window = cfg.actors * cfg.items_per_task * BLOCKS_PER_ACTOR
        source = iter(items)
        while chunk := list(itertools.islice(source, window)):
            yield from self._run_window(chunk, cache_spec)

    def close(self) -> None:
        if self._owns_ray:
            self._ray.shutdown()
            self._owns_ray = False

    # -- internals ------------------------------------------------------------------------

    def _remote_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"num_cpus": self.num_cpus}
        if self.num_gpus:
            args["num_gpus"] = self.num_gpus
        return args

    def _probe(self) -> BackendIdentity:
        """The backend identity, asked of a worker placed like an actor (one build)."""
        ray = self._ray
        probe = ray.remote(max_retries=0, **self._remote_args())(_probe_identity)
        try:
            unstructured = ray.get(probe.remote(self._mapping))
        except Exception as exc:
            raise _unwrap(exc) from None
        return converter.structure(unstructured, BackendIdentity)

    def _run_window(self, chunk: list[tuple[int, SourceItem]],
                    cache_spec: Mapping[str, Any] | None) -> Iterator[ItemOutcome]:
        ray, cfg = self._ray, self.config
        rows = [{"index": index, "item": pickle.dumps(converter.unstructure(item))}
                for index, item in chunk]
        blocks = math.ceil(len(rows) / cfg.items_per_task)
        data_ctx = ray.data.DataContext.get_current()
        saved = (data_ctx.execution_options.preserve_order, data_ctx.enable_progress_bars)
        data_ctx.execution_options.preserve_order = True
        data_ctx.enable_progress_bars = False  # the runner draws its own bar
        try:  # datasets copy the current context when they are created
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # Ray's own context fields
                ds = ray.data.from_items(rows, override_num_blocks=blocks)
            kwargs: dict[str, Any] = dict(
                fn_constructor_kwargs={"mapping": self._mapping, "cache": cache_spec,
                                       "identity": converter.unstructure(self._identity),
                                       "recipe_hash": self.plan.hash},
                batch_size=cfg.items_per_task, batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=min(cfg.actors, blocks)),
                **self._remote_args(),
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Ray >= 2.5x flags actor options as deprecated
                try:
                    ds = ds.map_batches(_GenerateBlock, max_task_retries=TASK_RETRIES, **kwargs)
                except TypeError:  # a Ray that no longer takes actor options here
                    ds = ds.map_batches(_GenerateBlock, **kwargs)
        finally:
            data_ctx.execution_options.preserve_order, data_ctx.enable_progress_bars = saved

        expected = (index for index, _ in chunk)
        want = next(expected)
        early: list[tuple[int, bytes]] = []  # a heap, should blocks arrive out of order
        batches = ds.iter_batches(batch_size=None, batch_format="numpy")
        try:
            for batch in batches:
                for index, blob, counts in zip(batch["index"], batch["outcome"],
                                               batch["counters"], strict=True):
                    if counts:
                        self._add_counters(pickle.loads(counts))
                    heapq.heappush(early, (int(index), blob))
                while early and early[0][0] == want:
                    _, blob = heapq.heappop(early)
                    yield converter.structure(pickle.loads(blob), ItemOutcome)
                    want = next(expected, None)
        except UserError:
            raise
        except Exception as exc:
            raise _unwrap(exc) from exc
        finally:
            with contextlib.suppress(Exception):
                batches.close()  # type: ignore[attr-defined]
        if want is not None:
            raise RuntimeError(f"ray engine: item {want} of this window never came back")

    def _add_counters(self, counts: Mapping[str, float]) -> None:
        for name in _COUNTER_FIELDS:
            setattr(self.counters, name, getattr(self.counters, name) + counts.get(name, 0))


# -- setup helpers -------------------------------------------------------------------------


def _check_installed(plan: Any) -> None:
    """Actors rebuild plugins by name: each must come from an installed package."""
    from instructgen.manager import make_registry

    registry = make_registry()
    missing = []
    for stage in plan.stages:
        try:
            registry.get(stage.spec.kind, stage.spec.name)
        except PluginError:
            missing.append(f"{stage.where}={stage.spec.name}")
    if missing:
        raise RayEngineError(
            f"engine.kind = \"ray\": {', '.join(missing)} is not an installed plugin (it was "
            "handed in-process); Ray actors load plugins from installed packages only")


def host_port(address: str) -> tuple[str, int]:
    """``ray://host:10001`` or ``host:6379`` → (host, port), with Ray's default ports."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "", address
    rest = rest.strip().rstrip("/")
    default = 10001 if scheme == "ray" else 6379
    if rest.startswith("["):  # [IPv6]:port
        host, _, tail = rest[1:].partition("]")
        port_text = tail.removeprefix(":")
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
    else:
        host, port_text = rest, ""
    try:
        port = int(port_text) if port_text else default
    except ValueError:
        raise RayEngineError(f"engine.ray_address {address!r}: the port must be a "
                             "number") from None
    if not host:
        raise RayEngineError(f"engine.ray_address {address!r}: no host name")
    return host, port


def _connect(ray: Any, address: str | None) -> bool:
    """Join the cluster at ``address`` (or start a local instance); True if we started Ray."""
    if ray.is_initialized():
        _check_same_cluster(ray, address)
        return False
    if address not in (None, "auto", "local"):
        host, port = host_port(address)
        try:
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
        except OSError as exc:
            raise RayEngineError(f"cannot reach the Ray cluster at {address} "
                                 f"({host}:{port}: {exc.strerror or exc})") from None
    kwargs: dict[str, Any] = {"address": address}
    if address is None or address == "local":
        kwargs["include_dashboard"] = False
    try:
        ray.init(**kwargs)
    except (Exception, SystemExit) as exc:  # Ray exits the process on a GCS timeout
        raise RayEngineError(f"cannot connect to the Ray cluster at {address or 'local'}: "
                             f"{str(exc).strip() or type(exc).__name__}") from None
    return True


def _check_same_cluster(ray: Any, address: str | None) -> None:
    """Ray joins one cluster per process: refuse an address other than the joined one."""
    if address in (None, "auto", "local") or address.startswith("ray://"):
        return
    try:
        current = ray.get_runtime_context().gcs_address
    except Exception:
        return
    if current and _resolved(host_port(address)) != _resolved(host_port(current)):
        raise RayEngineError(f"this process already joined the Ray cluster at {current}; "
                             f"it cannot also join {address}")


def _resolved(where: tuple[str, int]) -> tuple[str, int]:
    try:
        return socket.gethostbyname(where[0]), where[1]
    except OSError:
        return where


def _placement(ray: Any, cfg: Any, log: Any) -> tuple[float, float]:
    """CPUs and GPUs per actor: one GPU each on GPU clusters, a share of a node's CPUs else."""
    total = ray.cluster_resources()
    gpus = cfg.actor_gpus if cfg.actor_gpus is not None else (
        1.0 if total.get("GPU", 0) > 0 else 0.0)
    if gpus:
        cpus = 1.0
    else:
        node_cpus = max((n.get("Resources", {}).get("CPU", 0) for n in ray.nodes()
                         if n.get("Alive")), default=1)
        cpus = float(max(1, min(int(total.get("CPU", 1)) // cfg.actors, int(node_cpus))))
    if cfg.actors * cpus > total.get("CPU", 0) or cfg.actors * gpus > total.get("GPU", 0):
        log.warning("ray_cluster_too_small", actors=cfg.actors, cpus_per_actor=cpus,
                    gpus_per_actor=gpus, cluster_cpus=total.get("CPU", 0),
                    cluster_gpus=total.get("GPU", 0))
    return cpus, gpus


def _actor_recipe(mapping: dict[str, Any], cpus: float, gpus: float) -> dict[str, Any]:
    """The recipe actors build from: one backend each, threads sized to the actor."""
    backend = dict(mapping["backend"])
    backend.pop("replicas", None)  # an actor is the replica
    if "n_threads" in backend and backend["n_threads"] is None and not gpus:
        backend["n_threads"] = max(1, int(cpus))
    engine = dict(mapping.get("engine") or {})
    engine["kind"] = "local"
    return {**mapping, "backend": backend, "engine": engine}


def _unwrap(exc: BaseException) -> BaseException:
    """The user's error behind Ray's wrappers, when there is one; else ``exc``."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        cause = getattr(current, "cause", None)
        if isinstance(current, UserError) and not isinstance(cause, BaseException):
            return current
        todo.extend([current.__cause__, current.__context__,
                     cause if isinstance(cause, BaseException) else None])
    return exc


# -- what runs on the cluster ----------------------------------------------------------------


def _rebuild(mapping: Mapping[str, Any]) -> tuple[Any, Any]:
    from instructgen.manager import make_registry
    from instructgen.recipe import load_recipe, resolve

    registry = make_registry()
    return resolve(load_recipe(mapping), registry), registry


def _probe_identity(mapping: Mapping[str, Any]) -> dict[str, Any]:
    plan, _ = _rebuild(mapping)
    backend = plan.backend.build()
    try:
        return converter.unstructure(backend.identity)
    finally:
        backend.close()


class _GenerateBlock:
    """A Ray Data actor: one backend, one cache connection, a scheduler per block."""

    def __init__(self, mapping: Mapping[str, Any], cache: Mapping[str, Any] | None,
                 identity: Mapping[str, Any], recipe_hash: str) -> None:
        from instructgen.context import RunInfo
        from instructgen.logs import quiet_logger

        plan, registry = _rebuild(mapping)
        recipe = plan.recipe
        self.recipe, self.generator_name = recipe, plan.generator.spec.name
        self.generator = plan.generator.build()
        self.generator.setup(RunInfo(Path(recipe.output_dir), recipe.seed, recipe_hash,
                                     recipe.max_retries, registry))
        self.backend = plan.backend.build()
        mine = converter.unstructure(self.backend.identity)
        if mine != dict(identity):
            raise RayEngineError(f"a Ray actor built backend {mine} but the run uses "
                                 f"{dict(identity)}; install the same versions on every node")
        self.cache = (CallCache(cache["path"], self.backend.identity, readonly=cache["readonly"])
                      if cache else None)
        self.log = quiet_logger()

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, list[Any]]:
        items = [(k, converter.structure(pickle.loads(blob), SourceItem))
                 for k, blob in enumerate(batch["item"])]
        counters = Counters()
        recipe = self.recipe
        scheduler = Scheduler(self.generator, self.generator_name, self.backend, self.cache,
                              run_seed=recipe.seed, batch_size=recipe.batch_size,
                              window=recipe.in_flight or max(2 * recipe.batch_size, 8),
                              max_retries=recipe.max_retries, log=self.log, counters=counters)
        outcomes = list(scheduler.run(items))
        if self.cache is not None:
            self.cache.flush()
        indices = [int(i) for i in batch["index"]]
        counts = {name: getattr(counters, name) for name in _COUNTER_FIELDS}
        return {
            "index": indices,
            "outcome": [pickle.dumps(converter.unstructure(_renumber(o, indices[o.index])))
                        for o in outcomes],
            "counters": [pickle.dumps(counts)] + [b""] * (len(outcomes) - 1),
        }

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            if self.cache is not None:
                self.cache.close()
            self.backend.close()


def _renumber(outcome: ItemOutcome, index: int) -> ItemOutcome:
    return attrs.evolve(outcome, index=index)
