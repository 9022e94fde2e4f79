"""Cost of ``backend.isolate`` and of the llama.cpp crash probe (issue 13).

    python benchmarks/isolate.py                 # all three parts below
    python benchmarks/isolate.py worker probe --rounds 4
    python benchmarks/isolate.py recipe --limit 32 --rounds 4

Worker: on the fake backend (no model, so little noise), the fixed cost of
starting an isolated worker, and the extra time per batch of 16 requests.

Recipe: runs ``instructgen run examples/concepts/c2cap.toml`` as a user
would (a fresh process each time, call cache off, ``--fresh``), alternating
``backend.isolate = false`` and ``true`` so machine noise hits both alike, and
reports the wall time and the CPU time (user + system, the worker included)
of each, and the median overhead of isolation. On a shared, loaded machine
both swing by several times between identical runs (llama.cpp's threads spin
while they wait for each other); ``--threads 1`` steadies them.

Probe: in one process, alternates building the llamacpp backend on the
embedded model with ``extra_buffers = true`` (no probe) and running the probe
child against an empty probe cache, then reads a cached verdict.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "examples" / "concepts" / "c2cap.toml"


def one_run(out: Path, isolate: bool, limit: int, threads: int | None) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of the run's processes (its worker included)."""
    cmd = [sys.executable, "-m", "instructgen", "-q", "run", str(RECIPE), "--fresh",
           "--no-progress", "--set", f"limit={limit}", "--set", "cache.enabled=false",
           "--set", f'output_dir="{out}"', "--set", f"backend.isolate={str(isolate).lower()}"]
    if threads:
        cmd += ["--set", f"backend.n_threads={threads}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def isolation(limit: int, rounds: int, threads: int | None) -> None:
    walls: dict[bool, list[float]] = {False: [], True: []}
    cpus: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        one_run(Path(tmp) / "warm-up", False, 2, threads)  # page cache, probe verdict, imports
        for i in range(rounds):
            order = (False, True) if i % 2 == 0 else (True, False)
            for isolate in order:
                wall, cpu = one_run(Path(tmp) / f"run-{isolate}", isolate, limit, threads)
                walls[isolate].append(wall)
                cpus[isolate].append(cpu)
    print(f"c2cap limit={limit}, {rounds} rounds, n_threads={threads or 'all'}, "
          f"cores={len(os.sched_getaffinity(0))}, "
          f"load average {os.getloadavg()[0]:.1f}")
    for name, table in (("wall", walls), ("CPU", cpus)):
        off, on = statistics.median(table[False]), statistics.median(table[True])
        for isolate in (False, True):
            runs = " ".join(f"{w:7.2f}" for w in table[isolate])
            print(f"  {name:4} isolate={str(isolate).lower():5} {runs}  median "
                  f"{statistics.median(table[isolate]):.2f}s")
        print(f"  {name:4} overhead of isolation: {on - off:+.2f}s = "
              f"{100 * (on - off) / off:+.1f}%")


def probe(rounds: int) -> None:
    from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
    from instructgen.backends.models import embedded_model_path
    from instructgen.backends.native import extra_buffers_verdict

    model = embedded_model_path()
    loads, probes, cached = [], [], []
    for _ in range(rounds):
        t = time.perf_counter()
        LlamaCppBackend(LlamaCppOptions(extra_buffers=True)).close()
        loads.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "probes.json"
            t = time.perf_counter()
            assert extra_buffers_verdict(model, cache_path=path).probed
            probes.append(time.perf_counter() - t)
            t = time.perf_counter()
            assert not extra_buffers_verdict(model, cache_path=path).probed
            cached.append(time.perf_counter() - t)
    load, first = statistics.median(loads), statistics.median(probes)
    print(f"probe: backend load (extra_buffers=true) median {load:.2f}s; first probe "
          f"median {first:.2f}s ({first / load:.1f}x the load); cached verdict "
          f"{1000 * statistics.median(cached):.1f} ms")


def worker_cost(rounds: int, batches: int = 300) -> None:
    """The fixed and per-batch cost of a worker, on the fake backend (no model noise)."""
    from instructgen.backend import LLMRequest
    from instructgen.backends.fake import FakeBackend, FakeOptions
    from instructgen.engines.replicas import ReplicaPool
    from instructgen.manager import make_registry

    spec = make_registry(autoload=False).get("backend", "fake")
    starts = []
    for _ in range(rounds):
        t = time.perf_counter()
        pool = ReplicaPool(spec, FakeOptions(), 1, isolate=True)
        starts.append(time.perf_counter() - t)
        pool.close()
    schema = {"type": "object", "properties": {"caption": {"type": "string"}},
              "required": ["caption"]}
    batch = [LLMRequest(messages=[("system", "You write short factual captions. " * 20),
                                  ("user", f"A caption for concept {i} in a forest.")],
                        max_tokens=48, seed=i, schema=schema) for i in range(16)]
    pool, local = ReplicaPool(spec, FakeOptions(), 1, isolate=True), FakeBackend(FakeOptions())
    extra = []
    for _ in range(batches):
        t = time.perf_counter()
        pool.generate(batch)
        mid = time.perf_counter()
        local.generate(batch)
        extra.append((mid - t) - (time.perf_counter() - mid))
    pool.close()
    print(f"worker start (spawn, import, build, ready): "
          f"{' '.join(f'{x:.2f}' for x in starts)}  best {min(starts):.2f}s")
    print(f"per batch of 16 requests, isolated minus in-process: best "
          f"{1000 * min(extra):.2f} ms, median {1000 * statistics.median(extra):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", choices=["worker", "recipe", "probe"],
                        default=["worker", "recipe", "probe"])
    parser.add_argument("--limit", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="backend.n_threads for the recipe runs (1 is steadier on a busy "
                             "machine: llama.cpp's threads spin while they wait for each other)")
    args = parser.parse_args()
    if "worker" in args.parts:
        worker_cost(max(args.rounds, 5))
    if "recipe" in args.parts:
        isolation(args.limit, args.rounds, args.threads)
    if "probe" in args.parts:
        probe(args.rounds)


if __name__ == "__main__":
    main()
