"""The replica worker process: build one backend, then answer batches until told to stop.

Started by :class:`~instructgen.engines.replicas.ReplicaPool` with
``multiprocessing``'s *spawn* method; everything it receives is pickled.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, cast

from instructgen.backend import Backend
from instructgen.errors import PluginError

from .bootstrap import WorkerRegistry

#: What builds a backend from its options (a plugin's ``factory``).
Factory = Callable[[Any], Backend]


def build_backend(name: str, options: Any, factory: Factory | None,
                  registry: WorkerRegistry | None) -> Backend:
    """The backend ``name``, from the driver's registry rebuilt here.

    ``factory`` serves a backend that is in no registry (a pool built directly
    from a plugin record) when it pickled; ``registry`` is ``None`` then too.
    """
    if registry is not None:
        plugins = registry.build()
        if factory is None or name in plugins.plugins("backend"):
            found = plugins.get("backend", name, where="backend.name")
            return cast(Backend, found.factory(options))
    if factory is None:
        raise PluginError(f"backend.name: no backend {name!r} in the worker's plugins")
    return factory(options)


def travelling(factory: Factory) -> Factory | None:
    """``factory`` if it can be sent to a worker (a class or module function), else None."""
    try:
        pickle.loads(pickle.dumps(factory))
    except Exception:
        return None
    return factory


def portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a RuntimeError with its text."""
    with contextlib.suppress(Exception):
        exc.add_note("in a backend replica:\n" + "".join(traceback.format_exception(exc)))
    try:
        back: BaseException = pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return back


def serve(conn: Connection, name: str, options: Any, factory: Factory | None,
          registry: WorkerRegistry | None, cores: tuple[int, ...], pin: bool) -> None:
    """Worker main: build the backend, then answer batches until told to stop."""
    # Ctrl-C, and the SIGTERM/SIGHUP a job scheduler sends to the whole process group,
    # are the parent's to handle: it saves the run, then closes the workers itself.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    if pin and cores and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, cores)
    try:
        started = time.perf_counter()
        backend = build_backend(name, options, factory, registry)
        conn.send(("ready", (backend.identity, round(time.perf_counter() - started, 3))))
    except BaseException as exc:
        conn.send(("failed", portable(exc)))
        return
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return  # the parent is gone
            if message[0] != "generate":
                return
            try:
                reply: tuple[str, Any] = ("ok", list(backend.generate(message[1])))
            except BaseException as exc:
                reply = ("error", portable(exc))
            conn.send(reply)
    finally:
        backend.close()
