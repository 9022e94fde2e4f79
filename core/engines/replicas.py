"""Data-parallel backend replicas: one worker process per GPU, or per share of the cores.

``backend.replicas = N`` (or ``"auto"``) makes the engine build a
:class:`ReplicaPool` instead of one backend. The pool is itself a backend with
``concurrency = N``: the scheduler keeps N batches in flight, and each goes to
whichever worker process is idle. Every worker builds the named backend plugin
from the driver's registry, rebuilt in the worker (see
:mod:`instructgen.engines.bootstrap`), so a replica is exactly the backend a
1-replica run would use, and the pool reports that backend's identity: cache
keys, records and resume are the same whatever the replica count. Where the
workers run is :mod:`instructgen.engines.placement`'s decision.

A worker that dies mid-batch (killed, out of memory, segfault) is replaced in
the background and its batch is sent to the next idle worker: answers only
reach the scheduler from a finished batch, so nothing is lost or duplicated.

``backend.isolate = true`` runs even one backend this way, so that a crash
inside the model library (SIGILL, SIGSEGV, SIGABRT, the OOM killer) cannot take
the run down silently: the batch of a worker that dies is retried once in a
fresh worker, and a second death ends the run with :class:`BackendCrashed`
(exit code 4), one line naming the signal, the backend and the likely fix.

Workers are started with ``multiprocessing``'s *spawn* method (CUDA and forked
threads do not mix), so scripts that call :func:`instructgen.run` with replicas
need the usual ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import queue
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any, cast

from instructgen.backend import (
    Backend,
    BackendIdentity,
    Completion,
    CrashHints,
    LLMRequest,
    crash_hint,
    signal_text,
)
from instructgen.errors import BackendCrashed
from instructgen.plugin import BackendPlugin, PluginSpec

from .bootstrap import WorkerRegistry
from .placement import ReplicaSlot, plan_slots, worker_options
from .worker import Factory, serve, travelling

#: Deaths of workers while serving one batch before the batch is given up.
MAX_BATCH_DEATHS = 3
#: The same with ``backend.isolate``: one retry in a fresh worker, then BackendCrashed.
ISOLATED_BATCH_DEATHS = 2
#: Replacement workers started over a pool's life, per replica, before giving up.
MAX_RESTARTS_PER_REPLICA = 4
_POLL_S = 0.5
_log = logging.getLogger(__name__)


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


# -- the pool ---------------------------------------------------------------------------


class _Replica:
    __slots__ = ("conn", "process", "slot")

    def __init__(self, slot: ReplicaSlot, process: Any, conn: Connection) -> None:
        self.slot, self.process, self.conn = slot, process, conn

    @property
    def pid(self) -> int:
        return int(self.process.pid)


class ReplicaPool(Backend):
    """N worker processes, each holding one instance of the named backend."""

    def __init__(self, spec: PluginSpec, options: Any, replicas: int | str = "auto", *,
                 slots: Sequence[ReplicaSlot] | None = None, isolate: bool = False,
                 registry: WorkerRegistry | None = None) -> None:
        self.name, self.options = spec.name, options
        #: What the backend's plugin says a worker's death by each signal means.
        self.crash_hints: CrashHints = (spec.crash_hints if isinstance(spec, BackendPlugin)
                                        else {})
        #: The driver's registry, which each worker rebuilds to find the backend by name;
        #: without one, workers call the plugin record's factory (it must pickle).
        self.registry = registry
        #: ``backend.isolate``: a worker's death by a signal is an error with a message
        #: (:class:`BackendCrashed`) after one retry, not a RuntimeError after several.
        self.isolate = isolate
        self.max_batch_deaths = ISOLATED_BATCH_DEATHS if isolate else MAX_BATCH_DEATHS
        self.slots = list(slots) if slots is not None else plan_slots(replicas, options)
        #: Batches the scheduler may keep in flight at once.
        self.concurrency = len(self.slots)
        #: Workers replaced after dying, and batches resent after a worker died.
        self.restarts = 0
        self.retried_batches = 0
        #: Batches answered, per replica index.
        self.served = dict.fromkeys(range(len(self.slots)), 0)
        #: Seconds each worker took to build its backend (workers load in parallel).
        self.load_times: dict[str, float] = {}
        self._factory = travelling(cast(Factory, spec.factory))
        self._mp = mp.get_context("spawn")
        self._env_lock = threading.Lock()
        self._state = threading.Lock()
        self._idle: queue.Queue[_Replica] = queue.Queue()
        self._busy: dict[int, _Replica] = {}
        self._all: dict[int, _Replica] = {}
        self._starting = 0
        self._closed = False
        self._last_error: BaseException | None = None
        self._identity: BackendIdentity | None = None
        started = [self._spawn(slot) for slot in self.slots]
        try:
            for rep in started:
                self._await_ready(rep)
        except BaseException:
            for rep in started:
                self._stop(rep)
            raise
        for rep in started:
            self._all[rep.slot.index] = rep
            self._idle.put(rep)

    # -- Backend ------------------------------------------------------------------------

    @property
    def identity(self) -> BackendIdentity:
        assert self._identity is not None
        return self._identity

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers (tests and monitoring)."""
        with self._state:
            return [r.pid for r in self._all.values()]

    @property
    def busy_pids(self) -> list[int]:
        """Process ids of the workers serving a batch right now."""
        with self._state:
            return [r.pid for r in self._busy.values()]

    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        """Answer one batch on an idle worker; a worker that dies hands it to another."""
        batch = list(requests)
        deaths = 0
        while True:
            rep = self._take()
            try:
                rep.conn.send(("generate", batch))
                kind, payload = rep.conn.recv()
            except (EOFError, OSError):
                code = self._lost(rep)
                deaths += 1
                if deaths >= self.max_batch_deaths:
                    if self.isolate:
                        raise self._crashed(code, f"{_times(deaths)} on the same batch of "
                                                  f"{len(batch)} requests") from None
                    raise RuntimeError(
                        f"backend {self.name}: {deaths} replica workers died serving the same "
                        f"batch of {len(batch)} requests; giving up on it") from None
                _log.warning("%s; its batch of %d requests goes to a fresh worker",
                             self._death(code), len(batch))
                with self._state:
                    self.retried_batches += 1
                continue
            except BaseException:
                self._release(rep)
                raise
            self._release(rep)
            if kind == "error":
                raise payload
            with self._state:
                self.served[rep.slot.index] += 1
            return list(payload)

    def close(self) -> None:
        """Stop every worker (each closes its backend)."""
        with self._state:
            self._closed = True
            reps = list(self._all.values())
            self._all.clear()
        for rep in reps:
            self._stop(rep)

    # -- deaths -------------------------------------------------------------------------

    def _death(self, code: int | None) -> str:
        """``"llamacpp worker died with SIGILL (illegal instruction)"``."""
        if code is not None and code < 0:
            return f"{self.name} worker died with {signal_text(-code)}"
        return f"{self.name} worker exited with code {code}" if code is not None else (
            f"{self.name} worker vanished")

    def _crashed(self, code: int | None, when: str) -> BackendCrashed:
        signum = -code if code is not None and code < 0 else None
        return BackendCrashed(
            f"{self._death(code)}, {when}; likely fix: {crash_hint(signum, self.crash_hints)}; "
            "finished records are kept: rerun the same command to resume",
            backend=self.name, signum=signum)

    # -- workers ------------------------------------------------------------------------

    def _spawn(self, slot: ReplicaSlot) -> _Replica:
        options, pin = worker_options(self.options, slot)
        parent, child = self._mp.Pipe()
        process = self._mp.Process(target=serve, name=f"instructgen-replica-{slot.index}",
                                   args=(child, self.name, options, self._factory,
                                         self.registry, slot.cores, pin), daemon=True)
        # The child reads its device and thread settings from the environment at start.
        with self._env_lock:
            saved = {k: os.environ.get(k) for k in slot.env()}
            os.environ.update(slot.env())
            try:
                process.start()
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
        child.close()
        return _Replica(slot, process, parent)

    def _await_ready(self, rep: _Replica) -> None:
        while not rep.conn.poll(_POLL_S):
            if not rep.process.is_alive() and not rep.conn.poll(0):
                if (rep.process.exitcode or 0) < 0:
                    raise self._crashed(rep.process.exitcode, "while loading the backend")
                raise RuntimeError(f"backend {self.name}: replica {rep.slot.index} exited with "
                                   f"code {rep.process.exitcode} while starting")
        try:
            kind, payload = rep.conn.recv()
        except (EOFError, OSError):
            rep.process.join(timeout=5)
            if (rep.process.exitcode or 0) < 0:
                raise self._crashed(rep.process.exitcode, "while loading the backend") from None
            raise RuntimeError(f"backend {self.name}: replica {rep.slot.index} exited while "
                               "starting") from None
        if kind == "failed":
            raise payload
        payload, self.load_times[f"replica {rep.slot.index}"] = payload
        if self._identity is None:
            self._identity = payload
        elif payload != self._identity:
            raise RuntimeError(f"backend {self.name}: replica {rep.slot.index} reports identity "
                               f"{payload!r}, replica 0 {self._identity!r}; the cache would "
                               "mix them")

    def _take(self) -> _Replica:
        while True:
            with self._state:
                if self._closed:
                    raise RuntimeError(f"backend {self.name}: the replica pool is closed")
                if not self._all and not self._starting:
                    if self.isolate and self._last_error is not None:
                        raise self._last_error  # BackendCrashed, or why a restart failed
                    raise RuntimeError(f"backend {self.name}: every replica worker died"
                                       + (f"; last error: {self._last_error}"
                                          if self._last_error else ""))
            try:
                rep = self._idle.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if not rep.process.is_alive():
                self._lost(rep)
                continue
            with self._state:
                self._busy[rep.slot.index] = rep
            return rep

    def _release(self, rep: _Replica) -> None:
        with self._state:
            self._busy.pop(rep.slot.index, None)
        self._idle.put(rep)

    def _lost(self, rep: _Replica) -> int | None:
        """A worker died: forget it, start a replacement in the background, return its exit."""
        if rep.process.is_alive():  # its pipe broke but it still runs: make sure it is gone
            rep.process.kill()
        rep.process.join(timeout=5)
        with contextlib.suppress(OSError):
            rep.conn.close()
        code: int | None = rep.process.exitcode
        with self._state:
            self._busy.pop(rep.slot.index, None)
            if self._all.get(rep.slot.index) is rep:
                del self._all[rep.slot.index]
            if self._closed or self.restarts >= MAX_RESTARTS_PER_REPLICA * len(self.slots):
                self._last_error = self._last_error or (
                    self._crashed(code, f"after {self.restarts} restarts in this run")
                    if self.isolate else RuntimeError(
                        f"replica {rep.slot.index} exited with code {rep.process.exitcode}"))
                return code
            self.restarts += 1
            self._starting += 1
        threading.Thread(target=self._restart, args=(rep.slot,), daemon=True,
                         name=f"instructgen-replica-restart-{rep.slot.index}").start()
        return code

    def _restart(self, slot: ReplicaSlot) -> None:
        try:
            rep = self._spawn(slot)
            try:
                self._await_ready(rep)
            except BaseException:
                self._stop(rep)
                raise
        except BaseException as exc:
            with self._state:
                self._starting -= 1
                self._last_error = exc
            return
        with self._state:
            self._starting -= 1
            if self._closed:
                closed = True
            else:
                closed = False
                self._all[slot.index] = rep
        if closed:
            self._stop(rep)
        else:
            self._idle.put(rep)

    def _stop(self, rep: _Replica) -> None:
        with contextlib.suppress(OSError, ValueError):
            rep.conn.send(("close",))
        rep.process.join(timeout=10)
        if rep.process.is_alive():  # workers ignore SIGTERM (see serve), so kill
            rep.process.kill()
            rep.process.join(timeout=5)
        with contextlib.suppress(OSError):
            rep.conn.close()

