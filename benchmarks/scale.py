"""Scale-out benchmarks (issue 8): replicas and Ray actors on the embedded model.

    python benchmarks/scale.py              # print the table
    python benchmarks/scale.py --write      # and update docs/scaling.md
    python benchmarks/scale.py windows --label after --write   # Ray over many windows

Runs one recipe (the ``prompt`` generator on SmolLM2-135M, cache off) four
ways in one invocation: 1 and 2 backend replicas on the local runner, 1 and 2
Ray actors on a local Ray instance with as many CPUs as this machine has.
Every configuration gets the same cores in total (one replica or actor uses
them all; two split them), so "Ray over local" compares equal parallelism.
Wall time includes starting the workers and loading the model, as a user
sees it; Ray's own start-up (``ray.init``) is reported apart, since a cluster
is started once and serves many runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from docblock import write_block

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "scaling.md"
BENCH_DOC = ROOT / "docs" / "benchmarks.md"
MARK_BEGIN = "<!-- scale-benchmarks:begin -->"
MARK_END = "<!-- scale-benchmarks:end -->"
WIN_BEGIN = "<!-- ray-windows:begin -->"
WIN_END = "<!-- ray-windows:end -->"
#: Items per window of the windowed Ray engine (before issue 19) in the ``windows`` benchmark:
#: 2 actors x 2 items per task x 4 blocks per actor, so 48 items span 3 windows.
WINDOW_BLOCKS = 4


def write_items(path: Path, n: int) -> None:
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"caption": f"a wooden chair next to a window, photo {i}"}) + "\n")


def recipe(items: Path, out: Path, *, replicas: int = 1, engine: dict | None = None,
           batch_size: int, max_tokens: int) -> dict[str, Any]:
    return {
        "seed": 1,
        "source": {"name": "jsonl", "path": str(items)},
        "generator": {"name": "prompt", "template": "Rewrite as an image caption: {caption}",
                      "max_tokens": max_tokens, "temperature": 0.7},
        "backend": {"name": "llamacpp", "n_ctx": 512, "n_seq_max": batch_size,
                    "replicas": replicas},
        "batch_size": batch_size,
        "output_dir": str(out),
        "cache": {"enabled": False},
        "engine": engine or {"kind": "local"},
    }


def run_one(label: str, spec: dict[str, Any], n: int) -> dict[str, Any]:
    import instructgen

    t0 = time.perf_counter()
    summary = instructgen.run(spec, fresh=True)
    wall = time.perf_counter() - t0
    assert summary.items == n, (label, summary.items)
    return {"config": label, "items": summary.items, "wall_s": wall,
            "items_per_s": summary.items / wall, "tokens": summary.completion_tokens,
            "backend_s": summary.backend_s}


def bench(n: int, batch_size: int, max_tokens: int,
          rounds: int) -> tuple[list[dict[str, Any]], float]:
    """Every configuration ``rounds`` times, interleaved; the fastest round of each counts.

    Interleaving spreads slow phases of a shared machine over all configurations
    instead of charging them to whichever ran then.
    """
    import ray

    cores = len(os.sched_getaffinity(0))
    best: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        items = Path(tmp) / "items.jsonl"
        write_items(items, n)
        kw = {"batch_size": batch_size, "max_tokens": max_tokens}
        configs = [("local, 1 replica", {"replicas": 1}), ("local, 2 replicas", {"replicas": 2})]
        for actors in (1, 2):
            engine = {"kind": "ray", "actors": actors, "items_per_task": max(1, n // (actors * 2))}
            configs.append((f"ray, {actors} actor{'s' if actors > 1 else ''}", {"engine": engine}))
        t0 = time.perf_counter()
        ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
        ray_init = time.perf_counter() - t0
        try:
            for r in range(rounds):
                for k, (label, extra) in enumerate(configs):
                    row = run_one(label, recipe(items, Path(tmp) / f"c{k}-{r}", **extra, **kw), n)
                    print(f"round {r + 1}: {label}: {row['wall_s']:.1f} s", flush=True)
                    if label not in best or row["wall_s"] < best[label]["wall_s"]:
                        best[label] = row
        finally:
            ray.shutdown()
    return [best[label] for label, _ in configs], ray_init


def table(rows: list[dict[str, Any]], ray_init: float, n: int, batch_size: int,
          max_tokens: int, rounds: int) -> str:
    by = {r["config"]: r for r in rows}
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, "
        f"{len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f} at the end "
        f"(compare ratios within this table, not with other tables); SmolLM2-135M Q4_1 on "
        f"llama.cpp (CPU), "
        f"{n} items, batch_size {batch_size}, max_tokens {max_tokens}, cache off; "
        f"best of {rounds} interleaved rounds.",
        "",
        "| configuration | wall s | items/s | completion tokens | vs 1 replica |",
        "|---|---:|---:|---:|---:|",
    ]
    base = by["local, 1 replica"]["items_per_s"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['wall_s']:.1f} | {r['items_per_s']:.2f} | "
                     f"{r['tokens']} | {r['items_per_s'] / base:.2f}x |")
    lines += ["", f"`ray.init` of the local instance: {ray_init:.1f} s (not in the wall times)."]
    pairs = [("ray, 1 actor", "local, 1 replica"), ("ray, 2 actors", "local, 2 replicas")]
    for ray_cfg, local_cfg in pairs:
        if ray_cfg in by and local_cfg in by:
            over = by[ray_cfg]["wall_s"] / by[local_cfg]["wall_s"] - 1
            lines.append(f"Ray overhead, {ray_cfg.split(', ')[1]} vs {local_cfg.split(', ')[1]}: "
                         f"{over:+.0%} wall time "
                         f"({by[ray_cfg]['wall_s'] - by[local_cfg]['wall_s']:+.1f} s).")
    return "\n".join(lines)


def write_doc(text: str, begin: str = MARK_BEGIN, end: str = MARK_END,
              doc_path: Path = DOC) -> None:
    write_block(doc_path, begin, end, text, insert=lambda doc, block: doc + block)


def bench_windows(n: int, batch_size: int, max_tokens: int, rounds: int) -> dict[str, Any]:
    """One Ray run long enough for 3 windows of the windowed engine, 2 actors.

    The windowed engine (a fresh actor pool per window) sized a window as
    ``actors x items_per_task x BLOCKS_PER_ACTOR``; the driver lowers that
    constant so a short run spans as many windows as a long one does. An engine
    without windows (actors live for the whole run) ignores it.
    """
    import ray

    from instructgen.engines import ray as ray_engine

    windowed = not hasattr(ray_engine, "GenerationActor")  # the engine before issue 19
    if windowed:
        ray_engine.BLOCKS_PER_ACTOR = WINDOW_BLOCKS
    engine = {"kind": "ray", "actors": 2, "items_per_task": 2}
    cores = len(os.sched_getaffinity(0))
    best: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        items = Path(tmp) / "items.jsonl"
        write_items(items, n)
        ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
        try:
            for r in range(rounds):
                spec = recipe(items, Path(tmp) / f"w{r}", engine=engine, batch_size=batch_size,
                              max_tokens=max_tokens)
                row = run_one("ray, 2 actors", spec, n)
                manifest = json.loads((Path(tmp) / f"w{r}" / "manifest.json").read_text())
                row["loads"] = manifest["sessions"][-1].get("model_load_s")
                print(f"round {r + 1}: {row['wall_s']:.1f} s", flush=True)
                if best is None or row["wall_s"] < best["wall_s"]:
                    best = row
        finally:
            ray.shutdown()
    assert best is not None
    window = engine["actors"] * engine["items_per_task"] * WINDOW_BLOCKS
    best["windows"] = -(-n // window) if windowed else 0
    return best


def windows_row(label: str, row: dict[str, Any]) -> str:
    windows = row["windows"]  # 2 actors per window, plus the identity probe
    design = (f"fresh actor pool per window ({windows} windows: {2 * windows + 1} model loads)"
              if windows else "one actor pool for the run (2 model loads)")
    loads = row.get("loads") or {}
    load = (f"{len(loads)} loads, {sum(loads.values()) / len(loads):.1f} s each"
            if loads else "not recorded")
    return (f"| {label} | {design} | {row['wall_s']:.1f} | {row['items_per_s']:.2f} | "
            f"{load} |")


def write_windows_row(label: str, line: str, header: str) -> None:
    """Replace (or add) the row of ``label`` in the windows table of docs/scaling.md."""
    doc = DOC.read_text()
    _, _, rest = doc.partition(WIN_BEGIN)
    current, _, _ = rest.partition(WIN_END)
    rows = [x for x in current.strip().splitlines() if x.startswith("| ") and
            not x.startswith("| engine ") and not x.startswith(f"| {label} |")]
    table = [header, "", "| engine | design | wall s | items/s | model loads (driver's view) |",
             "|---|---|---:|---:|---|", *rows, line]
    for page in (DOC, BENCH_DOC):  # benchmarks.md gathers it too
        write_doc("\n".join(table), WIN_BEGIN, WIN_END, page)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", nargs="?", choices=("configs", "windows"), default="configs",
                   help="configs: replicas and actors; windows: one Ray run over 3+ windows")
    p.add_argument("--label", default="after", help="row label for the windows benchmark")
    p.add_argument("--items", type=int, default=48)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=24)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--write", action="store_true", help="update docs/scaling.md")
    args = p.parse_args()
    if args.mode == "windows":
        row = bench_windows(args.items, args.batch_size, args.max_tokens, args.rounds)
        line = windows_row(args.label, row)
        header = (f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, "
                  f"{len(os.sched_getaffinity(0))} cores shared with other work (load average "
                  f"{os.getloadavg()[0]:.1f} at the end), so compare rows, not absolute "
                  f"figures; SmolLM2-135M Q4_1 on llama.cpp (CPU), {args.items} items, "
                  f"2 actors, items_per_task 2, batch_size {args.batch_size}, max_tokens "
                  f"{args.max_tokens}, cache off; wall time includes actor start-up and "
                  f"model loads; best of {args.rounds}.")
        print(header)
        print(line)
        if args.write:
            write_windows_row(args.label, line, header)
        return
    rows, ray_init = bench(args.items, args.batch_size, args.max_tokens, args.rounds)
    text = table(rows, ray_init, args.items, args.batch_size, args.max_tokens, args.rounds)
    print(text)
    if args.write:
        write_doc(text)


if __name__ == "__main__":  # replicas start worker processes with "spawn"
    main()
