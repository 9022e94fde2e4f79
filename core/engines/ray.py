"""The Ray engine: one pool of long-lived actors serves the whole run.

Selected by ``[engine] kind = "ray"`` (or ``instructgen run --engine ray``).
The driver starts ``actors`` Ray actors once; each rebuilds the driver's
plugin registry (installed packages, plus the plugins handed in through
``plugins=[...]``, which must pickle; see :mod:`instructgen.engines.bootstrap`)
and the plan from the normalized recipe (:mod:`instructgen.engines.ray_actor`),
loads one backend (``num_gpus=1`` on GPU clusters, CPU actors otherwise) and
keeps it until the run ends. The driver then streams the source to them in
blocks of ``items_per_task`` items, keeps a bounded number of blocks in flight
and hands :class:`~instructgen.scheduler.ItemOutcome` back in source order; the
runner commits them exactly as it commits local outcomes, so records, rejects,
manifest and resume do not depend on the engine.

The backend identity comes from the pool's own actors (no extra model load),
and every actor must report the same one. Ray is imported only here. A killed
actor is restarted by Ray (it loads its model again) and its queued blocks are
retried; answers only leave an actor with a finished block, so nothing is lost
or duplicated.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from instructgen.backend import BackendIdentity
from instructgen.cache import CallCache
from instructgen.canonical import converter
from instructgen.counters import Counters, from_blob
from instructgen.errors import UserError
from instructgen.logs import Log
from instructgen.records import SourceItem
from instructgen.scheduler import ItemOutcome

from .bootstrap import WorkerRegistry
from .ray_actor import GenerationActor, RayEngineError

if TYPE_CHECKING:
    from instructgen.manager import RegistrySpec
    from instructgen.plan import Plan
    from instructgen.recipe import EngineConfig

#: Blocks an actor holds at once: the one it runs and the next, already waiting,
#: so it never idles on the driver's round trip.
BLOCKS_PER_ACTOR = 2
#: Blocks sent but not yet handed to the runner, per actor: bounds the driver's
#: memory when one slow block holds back the blocks after it.
AHEAD_PER_ACTOR = 4
#: Times one block is retried after its actor died before the run fails.
TASK_RETRIES = 3
#: Seconds to wait for a TCP connection to the cluster before calling it unreachable.
CONNECT_TIMEOUT_S = 5.0
#: Seconds ``close`` waits for actors to close their caches and backends.
CLOSE_TIMEOUT_S = 30.0


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayEngineError("engine.kind = \"ray\" needs Ray: "
                             "pip install 'instructgen[ray]'") from None
    return ray


class RayEngine:
    """Runs the generation stage on a Ray cluster (or a local Ray instance)."""

    def __init__(self, plan: Plan, registry: RegistrySpec, *, counters: Counters | None = None,
                 log: Log) -> None:
        self.plan, self.log = plan, log
        self.config = plan.recipe.engine
        #: Where each finished block's counts are added (the run summary, from the runner).
        self.counters = counters if counters is not None else Counters()
        #: Seconds each actor took to build its backend, by worker name (``actor 0``, ...).
        self.load_times: dict[str, float] = {}
        #: The driver's plugins, which each actor rebuilds (refused here if they cannot travel).
        self._registry = WorkerRegistry.of(
            registry, who='engine.kind = "ray"',
            stages=[f"{s.where}={s.spec.name}" for s in plan.stages if s.spec.dist == "embedded"])
        self._ray = ray = _import_ray()
        self.address = self.config.ray_address
        self._owns_ray = _connect(ray, self.address)
        self._actors: list[Any] = []
        self._pending: dict[Any, tuple[int, int]] = {}
        self._abandoned = False
        try:
            self.num_cpus, self.num_gpus = _placement(ray, self.config, log)
            self._mapping = _actor_recipe(plan.normalized(), self.num_cpus, self.num_gpus)
            self._identity = self._start_actors()
        except BaseException:
            self.close()
            raise
        log.info("ray_engine_ready", address=self.address or "local", actors=len(self._actors),
                 actor_cpus=self.num_cpus, actor_gpus=self.num_gpus)

    @property
    def identity(self) -> BackendIdentity:
        return self._identity

    def run(self, items: Iterable[tuple[int, SourceItem]],
            cache: CallCache | None) -> Iterator[ItemOutcome]:
        """Outcomes in the order of ``items``, streamed through the pool's actors."""
        ray = self._ray
        cache_spec = None if cache is None else {"path": str(cache.path),
                                                 "readonly": cache.readonly}
        identity = converter.unstructure(self._identity)
        per_task = self.config.items_per_task
        n = len(self._actors)
        held = [0] * n  # blocks each actor holds
        source = iter(items)
        sent = wanted = 0  # blocks sent; the next block the runner gets
        done: dict[int, dict[str, Any]] = {}
        exhausted = False
        try:
            while True:
                while not exhausted and sent - wanted < AHEAD_PER_ACTOR * n:
                    actor = min(range(n), key=held.__getitem__)
                    if held[actor] >= BLOCKS_PER_ACTOR:
                        break
                    block = [(index, converter.unstructure(item))
                             for index, item in _take(source, per_task)]
                    if not block:
                        exhausted = True
                        break
                    ref = self._actors[actor].run_block.remote(block, cache_spec, identity)
                    self._pending[ref] = (sent, actor)
                    held[actor] += 1
                    sent += 1
                if not self._pending:
                    break
                ready, _ = ray.wait(list(self._pending), num_returns=1)
                for ref in ready:
                    seq, actor = self._pending.pop(ref)
                    held[actor] -= 1
                    try:
                        done[seq] = ray.get(ref)
                    except Exception as exc:  # Ray wraps the actor's error: show the user's
                        raise _unwrap(exc) from exc
                while wanted in done:
                    result = done.pop(wanted)
                    wanted += 1
                    self.counters.add(from_blob(result["counters"]))
                    for blob in result["outcomes"]:
                        yield converter.structure(blob, ItemOutcome)
        finally:
            self._cancel_pending()

    def close(self) -> None:
        """Close every actor's cache and backend, then end the actors (and Ray, if ours)."""
        ray = self._ray
        self._cancel_pending()
        actors, self._actors = self._actors, []
        if actors:
            # After an early stop an actor may still be in a long block: do not wait for it.
            wait = 1.0 if self._abandoned else CLOSE_TIMEOUT_S
            with contextlib.suppress(Exception):
                ray.get([a.close.remote() for a in actors], timeout=wait)
            for actor in actors:
                with contextlib.suppress(Exception):
                    ray.kill(actor)
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False

    # -- internals ------------------------------------------------------------------------

    def _remote_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"num_cpus": self.num_cpus}
        if self.num_gpus:
            args["num_gpus"] = self.num_gpus
        return args

    def _start_actors(self) -> BackendIdentity:
        """Start the pool; every actor loads its model in parallel and reports its identity.

        The identity of actor 0 is the run's (no separate probe loads a model);
        any actor that reports another one fails the run before a block is sent.
        """
        ray, cfg = self._ray, self.config
        remote = ray.remote(max_restarts=-1, max_task_retries=TASK_RETRIES,
                            **self._remote_args())(GenerationActor)
        self._actors = [remote.remote(self._mapping, self.plan.hash, self._registry)
                        for _ in range(cfg.actors)]
        try:
            reports = ray.get([a.ready.remote() for a in self._actors])
        except Exception as exc:
            raise _unwrap(exc) from None
        first = reports[0]["identity"]
        for k, report in enumerate(reports):
            if report["identity"] != first:
                raise RayEngineError(
                    f"Ray actor {k} (on {report['node']}) built backend {report['identity']} "
                    f"but actor 0 built {first}; install the same versions on every node")
            self.load_times[f"actor {k}"] = report["load_s"]
        return converter.structure(first, BackendIdentity)

    def _cancel_pending(self) -> None:
        """Drop blocks still queued on actors (the runner stopped reading early)."""
        pending, self._pending = list(self._pending), {}
        self._abandoned = self._abandoned or bool(pending)
        for ref in pending:
            with contextlib.suppress(Exception):
                self._ray.cancel(ref)


def _take(source: Iterator[tuple[int, SourceItem]], n: int) -> list[tuple[int, SourceItem]]:
    out = []
    for pair in source:
        out.append(pair)
        if len(out) >= n:
            break
    return out


# -- setup helpers -------------------------------------------------------------------------


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


def _placement(ray: Any, cfg: EngineConfig, log: Log) -> tuple[float, float]:
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
    if isinstance(backend.get("max_concurrency"), int):  # a total for the pool (openai backend)
        actors = int((mapping.get("engine") or {}).get("actors", 1))
        backend["max_concurrency"] = max(1, backend["max_concurrency"] // actors)
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
