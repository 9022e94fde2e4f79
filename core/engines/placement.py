"""Where replica workers run: which GPU, which cores, how many threads.

``backend.replicas = N`` (or ``"auto"``):

* GPUs visible (``CUDA_VISIBLE_DEVICES``, else ``nvidia-smi -L``): worker ``i``
  sees only GPU ``i`` (round robin when N exceeds the GPUs); ``"auto"`` is one
  worker per visible GPU.
* CPU only: the cores this process may use are split into N disjoint slices;
  each worker is pinned to its slice and, when the backend options have an
  unset ``n_threads`` field, gets ``n_threads`` = its slice size. ``"auto"`` is
  1 (one process already uses every core), or ``cores // n_threads`` when
  ``n_threads`` is set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

import attrs

#: Environment variables that size the thread pools of BLAS/OpenMP/torch in a worker.
_THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def visible_gpus() -> list[str]:
    """Ids of the CUDA devices this process may use, without importing torch."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        out = []
        for dev in (d.strip() for d in env.split(",")):
            if not dev or dev.startswith("-"):
                break  # CUDA ignores every id after an invalid one
            out.append(dev)
        return out
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=15,
                                 check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    count = sum(1 for line in listing.splitlines() if line.startswith("GPU "))
    return [str(i) for i in range(count)]


def usable_cores() -> list[int]:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


@attrs.frozen
class ReplicaSlot:
    """Where one worker runs: its GPU (if any), its cores and its thread count."""

    index: int
    gpu: str | None
    cores: tuple[int, ...]
    threads: int

    def env(self) -> dict[str, str]:
        out = {name: str(self.threads) for name in _THREAD_ENV}
        if self.gpu is not None:
            out["CUDA_VISIBLE_DEVICES"] = self.gpu
        return out


def plan_slots(replicas: int | str, options: Any, *, gpus: Sequence[str] | None = None,
               cores: Sequence[int] | None = None) -> list[ReplicaSlot]:
    """Decide how many workers run and where (see the module docstring)."""
    gpus = visible_gpus() if gpus is None else list(gpus)
    cores = usable_cores() if cores is None else list(cores)
    if replicas == "auto":
        if gpus:
            n = len(gpus)
        else:
            wanted = _option_threads(options)
            n = max(1, len(cores) // wanted) if wanted else 1
    elif isinstance(replicas, int) and not isinstance(replicas, bool) and replicas >= 1:
        n = replicas
    else:
        raise ValueError(f"backend.replicas: expected \"auto\" or a positive integer, "
                         f"got {replicas!r}")
    per = max(1, len(cores) // n)
    slots = []
    for i in range(n):
        start = (i * per) % len(cores)
        share = tuple(cores[start:start + per]) or tuple(cores[:per])
        slots.append(ReplicaSlot(i, gpus[i % len(gpus)] if gpus else None, share, len(share)))
    return slots


def _option_threads(options: Any) -> int | None:
    fields = attrs.fields_dict(type(options)) if attrs.has(type(options)) else {}
    return getattr(options, "n_threads", None) if "n_threads" in fields else None


def worker_options(options: Any, slot: ReplicaSlot) -> tuple[Any, bool]:
    """The options a worker builds with; True when the worker should be pinned."""
    if not attrs.has(type(options)) or "n_threads" not in attrs.fields_dict(type(options)):
        return options, True
    if options.n_threads is not None:  # the user chose a thread count: leave placement alone
        return options, False
    return attrs.evolve(options, n_threads=slot.threads), True
