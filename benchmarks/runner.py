"""Runner overhead benchmarks (issue: runner). Results go to docs/benchmarks.md.

    python benchmarks/runner.py throughput     # fake backend, one request per item
    python benchmarks/runner.py memory         # peak RSS, 10k vs 1M JSONL items
    python benchmarks/runner.py overhead       # real backend: wall time vs backend time
    python benchmarks/runner.py all --write    # everything, and update docs/benchmarks.md

Figures compared with each other are always measured in the same invocation.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from docblock import write_block

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
MARK_BEGIN = "<!-- runner-benchmarks:begin -->"
MARK_END = "<!-- runner-benchmarks:end -->"


def write_items(path: Path, n: int) -> None:
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"caption": f"a wooden chair next to a window, photo {i}"}) + "\n")


def recipe(items: Path, out: Path, *, backend: dict, batch_size: int, cache: bool,
           limit: int | None = None) -> dict:
    r = {
        "source": {"name": "jsonl", "path": str(items)},
        "generator": {"name": "prompt", "template": "Rewrite: {caption}", "max_tokens": 24},
        "backend": backend,
        "batch_size": batch_size,
        "output_dir": str(out),
        "cache": {"enabled": cache, "path": str(out.parent / f"{out.name}.sqlite")},
    }
    if limit is not None:
        r["limit"] = limit
    return r


def bench_throughput(n: int = 50_000) -> list[dict]:
    import instructgen

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        items = Path(tmp) / "items.jsonl"
        write_items(items, n)
        for cache in (False, True):
            out = Path(tmp) / f"run-{cache}"
            t0 = time.perf_counter()
            s = instructgen.run(recipe(items, out, backend={"name": "fake"}, batch_size=64,
                                       cache=cache), autoload=False)
            wall = time.perf_counter() - t0
            rows.append({"items": s.items, "cache": cache, "wall_s": round(wall, 2),
                         "items_per_s": round(s.items / wall)})
    return rows


_CHILD = """
import json, resource, sys, instructgen
r = json.loads(sys.argv[1])
s = instructgen.run(r, autoload=False)
print(json.dumps({"items": s.items, "elapsed": s.elapsed_s,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def bench_memory(small: int = 10_000, large: int = 1_000_000) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (small, large):
            items = Path(tmp) / f"items-{n}.jsonl"
            write_items(items, n)
            out = Path(tmp) / f"run-{n}"
            r = recipe(items, out, backend={"name": "fake"}, batch_size=64, cache=True)
            res = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(r)],
                                 capture_output=True, text=True, check=True)
            data = json.loads(res.stdout.strip().splitlines()[-1])
            rows.append({"items": data["items"], "peak_rss_mb": round(data["maxrss_mb"], 1),
                         "run_s": round(data["elapsed"], 1)})
            items.unlink()
    return rows


def bench_overhead(n: int = 64, batch_size: int = 16) -> list[dict]:
    import instructgen

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        items = Path(tmp) / "items.jsonl"
        write_items(items, n)
        out = Path(tmp) / "run"
        s = instructgen.run(recipe(items, out, backend={"name": "llamacpp"},
                                   batch_size=batch_size, cache=False), autoload=False)
        rows.append({"backend": "llamacpp (smollm2-135m-instruct)", "items": s.items,
                     "wall_s": round(s.elapsed_s, 2), "backend_s": round(s.backend_s, 2),
                     "wall_over_backend": round(s.elapsed_s / s.backend_s, 4)})
    return rows


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["throughput", "memory", "overhead", "all"])
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    parts = [f"Measured {time.strftime('%Y-%m-%d')} on {platform.processor() or platform.machine()}"
             f", Python {platform.python_version()}, 2 cores."]
    if args.what in ("throughput", "all"):
        rows = bench_throughput()
        parts.append("### Fake backend throughput (target: >= 5,000 items/s)\n\n" + table(rows))
    if args.what in ("memory", "all"):
        rows = bench_memory()
        delta = rows[1]["peak_rss_mb"] - rows[0]["peak_rss_mb"]
        parts.append("### Peak RSS, streaming JSONL (target: 1M within 150 MB of 10k)\n\n"
                     + table(rows) + f"\n\nDifference: {delta:.1f} MB.")
    if args.what in ("overhead", "all"):
        rows = bench_overhead()
        parts.append("### Runner overhead on a real backend (target: wall <= 1.05 x backend)"
                     "\n\n" + table(rows))
    text = "\n\n".join(parts)
    print(text)
    if args.write:
        write_block(DOC, MARK_BEGIN, MARK_END, text, insert=lambda doc, block: (
            (doc or "# Benchmarks\n") + "\n## Runner\n\n" + block + "\n"))


if __name__ == "__main__":
    main()
