"""Thread counts for a CPU decode taken from the cores nobody else is using.

llama.cpp's CPU threads meet at a barrier after every graph node, and with
OpenMP they spin while they wait. That is the fastest choice on an idle
machine and a disaster on a shared one: when two processes each run one
thread per core, a waiting thread spins on the core that the thread it waits
for needs, and both runs slow down by tens of times instead of two (measured:
docs/benchmarks.md, "Neighbours").

:class:`CoreShare` looks at what the *other* processes used of this
process's cores over the last interval (``/proc/stat`` for the cores, minus
this process's own CPU time) and offers as many threads as there are free
cores, at least one. One thread means no barrier at all, so two runs that
start together each settle on one thread and share the machine at the cost
of sharing it; when one ends, the other takes its core back within an
interval. Where ``/proc/stat`` cannot be read (not Linux), the full count is
kept, as before.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

#: Seconds between two looks at the machine: long enough for a steady reading at
#: 100 ticks per second, short enough that a freed core is taken back quickly.
INTERVAL_S = 0.5


def read_busy_ticks(cores: Sequence[int], stat: Path = Path("/proc/stat")) -> int | None:
    """Busy clock ticks (not idle, not waiting on I/O) of ``cores`` since boot; None if unknown."""
    wanted = {f"cpu{c}" for c in cores}
    try:
        lines = stat.read_text(encoding="ascii").splitlines()
    except OSError:
        return None
    busy, seen = 0, 0
    for line in lines:
        name, _, rest = line.partition(" ")
        if name not in wanted:
            continue
        fields = [int(x) for x in rest.split()]
        # user nice system idle iowait irq softirq steal [guest guest_nice]: guests are
        # already counted in user and nice.
        busy += sum(fields[:8]) - fields[3] - fields[4]
        seen += 1
    return busy if seen == len(wanted) else None


def own_cpu_seconds() -> float:
    """CPU time this process has used (every thread, user and system)."""
    t = os.times()
    return t.user + t.system


class CoreShare:
    """How many threads to decode with now: the free cores, between 1 and ``limit``.

    Call :meth:`threads` before each decode step; it looks at the machine at most
    every ``interval_s`` seconds and is otherwise a clock read.
    """

    def __init__(self, limit: int, cores: Sequence[int] | None = None, *,
                 interval_s: float = INTERVAL_S,
                 busy_ticks: Callable[[Sequence[int]], int | None] = read_busy_ticks,
                 own_seconds: Callable[[], float] = own_cpu_seconds,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if cores is None:
            cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.limit = max(1, limit)
        self.cores = list(cores)
        self.interval_s = interval_s
        self._busy_ticks, self._own, self._clock = busy_ticks, own_seconds, clock
        self._hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._current = self.limit
        self._last: tuple[float, int, float] | None = self._sample()

    def _sample(self) -> tuple[float, int, float] | None:
        ticks = self._busy_ticks(self.cores) if self.cores else None
        return None if ticks is None else (self._clock(), ticks, self._own())

    @property
    def current(self) -> int:
        """The count :meth:`threads` last returned."""
        return self._current

    def threads(self) -> int:
        """The thread count for the next decode step."""
        if self._last is None or self.limit == 1:
            return self._current
        now = self._clock()
        if now - self._last[0] < self.interval_s:
            return self._current
        sample = self._sample()
        if sample is None:
            return self._current
        wall = sample[0] - self._last[0]
        others = ((sample[1] - self._last[1]) / self._hz - (sample[2] - self._last[2])) / wall
        self._last = sample
        self._current = free_threads(len(self.cores), others, self.limit)
        return self._current


def free_threads(n_cores: int, others_busy: float, limit: int) -> int:
    """Cores left when others keep ``others_busy`` cores busy, rounded, within 1..limit.

    A core counts as taken once another process uses more than a third of it:
    a decode thread that shares its core with a busy neighbour holds up every
    barrier, so giving it up is cheaper than contending for it.
    """
    taken = int(max(0.0, others_busy) + 2 / 3)
    return max(1, min(limit, n_cores - taken))
