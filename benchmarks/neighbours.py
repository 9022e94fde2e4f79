"""Two runs on one machine: does each get its share, or do they spin against each other?

    python benchmarks/neighbours.py                 # default: 8-item edit runs
    python benchmarks/neighbours.py --items 24 --write

Each scenario runs whole ``instructgen -q run`` processes of
``examples/edits/single.toml`` on the embedded SmolLM2-135M (llama.cpp, CPU,
cache off), each into its own output directory:

- ``alone``: one run on an otherwise idle machine;
- ``pair``: two identical runs started at the same moment;
- ``beside tests``: one run while the fast test lane (``pytest -m "not model and
  not slow"``) runs next to it.

Each scenario is measured with the default thread choice (``n_threads`` unset:
the free cores, :mod:`instructgen.backends.cpu_share`) and with the count pinned
to every core (``n_threads = <cores>``, the behaviour before). A pinned pair can
take ten times longer or more, so every process is stopped at ``--cap`` times
the alone time of its mode and reported as not finished. The target: each run
of a pair within 2.5x of its wall time alone.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from docblock import write_block

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- neighbours:begin -->", "<!-- neighbours:end -->"
RECIPE = ROOT / "examples" / "edits" / "single.toml"
TARGET = 2.5


#: Extra ``--set`` overrides for every run (``--set`` on this script's command line).
OVERRIDES: list[str] = []


def run_command(out: Path, items: int, threads: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "instructgen", "-q", "run", str(RECIPE), "--no-progress",
           "--set", f"limit={items}", "--set", f'output_dir="{out}"',
           "--set", "cache.enabled=false"]
    for override in OVERRIDES:
        cmd += ["--set", override]
    if threads is not None:
        cmd += ["--set", f"backend.n_threads={threads}"]
    return cmd


def start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(cmd, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)


def wait_all(procs: list[subprocess.Popen[bytes]], started: float,
             cap_s: float) -> list[float | None]:
    """Wall seconds of each process from ``started``; None for one stopped at the cap."""
    ends: list[float | None] = [None] * len(procs)
    while any(p.poll() is None for p in procs):
        now = time.perf_counter()
        for i, p in enumerate(procs):
            if ends[i] is None and p.poll() is not None:
                ends[i] = now - started
        if now - started > cap_s:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            break
        time.sleep(0.05)
    for i, p in enumerate(procs):
        if ends[i] is None and p.returncode == 0:
            ends[i] = time.perf_counter() - started
        elif p.returncode not in (0, None) and p.returncode > 0:
            raise SystemExit(f"a run failed with exit code {p.returncode}")
    return ends


def scenario(name: str, items: int, threads: int | None, cap_s: float,
             tmp: Path) -> list[float | None]:
    runs = 2 if name == "pair" else 1
    procs, started = [], time.perf_counter()
    for i in range(runs):
        out = tmp / f"{name}-{threads}-{i}"
        procs.append(start(run_command(out, items, threads), tmp / f"{out.name}.log"))
    tests = None
    if name == "beside tests":
        tests = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                  "-m", "not model and not slow", "-x", "tests/core"],
                                 cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    walls = wait_all(procs, started, cap_s)
    if tests is not None:
        tests.kill()
        tests.wait()
    return walls


def fmt(x: float | None, cap_s: float) -> str:
    return f"> {cap_s:.0f} (stopped)" if x is None else f"{x:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=8)
    ap.add_argument("--cap", type=float, default=8.0,
                    help="stop a process at this many times its mode's alone time")
    ap.add_argument("--modes", default="free,pinned")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a recipe override for every run, e.g. generator.compose=\"model\"")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    OVERRIDES.extend(args.set)
    cores = len(os.sched_getaffinity(0))
    modes = {"free": None, "pinned": cores}
    rows = []
    with tempfile.TemporaryDirectory(prefix="neighbours-") as tmp:
        for mode in args.modes.split(","):
            threads = modes[mode]
            alone = scenario("alone", args.items, threads, 3600, Path(tmp))[0]
            assert alone is not None
            cap_s = args.cap * alone
            for name in ("pair", "beside tests"):
                walls = scenario(name, args.items, threads, cap_s, Path(tmp))
                worst = None if None in walls else max(w for w in walls if w is not None)
                ratio = f"{worst / alone:.2f}x" if worst else f"> {args.cap:.0f}x"
                met = "yes" if worst and worst / alone <= TARGET else "no"
                rows.append((mode, name, alone, walls, ratio, met, cap_s))
                print(mode, name, alone, walls, ratio, flush=True)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {cores} cores, `{args.items}`-item runs of "
        f"`examples/edits/single.toml`{''.join(f' `--set {o}`' for o in args.set)} on the "
        f"embedded SmolLM2-135M (cache off), whole "
        f"processes; load average at the end: {load}. `free`: `n_threads` unset (the free "
        f"cores); `pinned`: `n_threads = {cores}`, the behaviour before. A process still "
        f"running at {args.cap:.0f}x its mode's alone time is stopped.",
        "",
        "| threads | scenario | alone s | each run s | worst / alone | within 2.5x |",
        "|---|---|---:|---|---:|---|",
    ]
    for mode, name, alone, walls, ratio, met, cap_s in rows:
        each = ", ".join(fmt(w, cap_s) for w in walls)
        lines.append(f"| {mode} | {name} | {alone:.1f} | {each} | {ratio} | {met} |")
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_block(DOC, BEGIN, END, text)


if __name__ == "__main__":
    main()
