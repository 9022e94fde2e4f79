"""Prefix reuse (issue 14): wall time, decoded share of prompt tokens and acceptance, before/after.

    python benchmarks/prefix.py                       # edit, implicit and c2cap workloads
    python benchmarks/prefix.py --write               # and update docs/benchmarks.md
    python benchmarks/prefix.py --workloads edit --configs before,after,sets0,sets2,sets8

Workloads (embedded SmolLM2-135M on llama.cpp, cache off, one fresh run each):

- ``edit``: the captions of ``examples/edits/coco_captions.json`` (``--repeat``
  times, as JSONL items) through the ``edit`` generator with all eleven LLM
  edit types, judge on, batch 16;
- ``implicit``: ``examples/implicit/implicit.toml``, first ``--implicit-limit`` seeds;
- ``c2cap``: ``examples/concepts/c2cap.toml``, first ``--c2cap-limit`` concepts.

Configurations:

- ``before``: the llamacpp backend as it was before prefix reuse (its source is
  read from git, ``--before-rev``), ``n_seq_max = 8`` (the old default), fresh
  example draws per item;
- ``after``: the current backend with its defaults, the generator's defaults;
- ``setsN`` (edit only): ``after`` with ``example_sets = N`` (``sets0``: fresh draws),
  to weigh the prefill saved against diversity (distinct-2, unique share);
- ``batchN`` (edit only): ``after`` with ``batch_size = N`` (and so N slots).

Every run is a child process, so model load and memory are its own; the
configurations alternate within each round (``--rounds``) and the median wall
time counts. Ratios are comparable within one invocation only: the machine
is shared and its load moves absolute figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from docblock import write_block

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- prefix-benchmarks:begin -->", "<!-- prefix-benchmarks:end -->"
#: The last commit whose llamacpp backend prefilled every prompt in full.
BEFORE_REV = "a814d61"
ALL_TYPES = ["add", "remove", "replace", "color_alter", "appearance_alter", "material_alter",
             "texture_alter", "action_change", "background_change", "tone_transfer",
             "textual_change"]


def _toml(path: str) -> dict[str, Any]:
    data = tomllib.loads((ROOT / path).read_text())
    data.pop("output_dir", None)
    return data


def coco_items(path: Path, repeat: int) -> int:
    """The example COCO file's captions as JSONL items, ``repeat`` times; returns the count."""
    data = json.loads((ROOT / "examples/edits/coco_captions.json").read_text())
    caps = [a["caption"] for a in data["annotations"]]
    with path.open("w") as f:
        for r in range(repeat):
            for i, cap in enumerate(caps):
                f.write(json.dumps({"id": f"{r}-{i}", "caption": cap}) + "\n")
    return repeat * len(caps)


def recipe(workload: str, config: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    if workload == "edit":
        items = work / "coco.jsonl"
        coco_items(items, args.repeat)
        data: dict[str, Any] = {
            "seed": 7,
            "source": {"name": "jsonl", "path": str(items)},
            # Pinned, so runs at different commits ask the same questions.
            "generator": {"name": "edit", "types": ALL_TYPES, "examples": 5, "judge": True},
            "backend": {"name": "llamacpp", "n_ctx": 2048},
            "batch_size": 16,
            "sink": {"name": "jsonl"},
        }
        if config.startswith("sets"):
            data["generator"]["example_sets"] = int(config.removeprefix("sets"))
        elif config.startswith("batch"):  # n_seq_max follows batch_size
            data["batch_size"] = int(config.removeprefix("batch"))
        elif config == "before":
            data["generator"]["example_sets"] = 0
    elif workload == "implicit":
        data = _toml("examples/implicit/implicit.toml")
        data["limit"] = args.implicit_limit
    elif workload == "c2cap":
        data = _toml("examples/concepts/c2cap.toml")
        data["limit"] = args.c2cap_limit
    else:
        raise SystemExit(f"unknown workload {workload!r}")
    data["output_dir"] = str(work / "run")
    data["cache"] = {"enabled": False}
    return data


def before_backend(rev: str, options: dict[str, Any]) -> Any:
    """The llamacpp backend of ``rev``, loaded next to the current package."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:backends/llamacpp.py"],
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "llamacpp_before.py"
    path.write_text(source)
    name = "instructgen.backends._llamacpp_before"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    known = {a.name for a in module.LlamaCppOptions.__attrs_attrs__}
    opts = {k: v for k, v in options.items() if k in known}
    opts["n_seq_max"] = 8
    return module.LlamaCppBackend(module.LlamaCppOptions(**opts))


def child(workload: str, config: str, args: argparse.Namespace) -> dict[str, Any]:
    """One run in this process; the figures as a dict."""
    import instructgen
    from instructgen.report import compute_metrics, load_run

    with tempfile.TemporaryDirectory(prefix="prefix-bench-") as tmp:
        work = Path(tmp)
        spec = recipe(workload, config, work, args)
        t0 = time.perf_counter()
        backend = None
        if config == "before":
            opts = {k: v for k, v in spec["backend"].items() if k != "name"}
            backend = before_backend(args.before_rev, opts)
        summary = instructgen.run(spec, fresh=True, backend=backend)
        wall = time.perf_counter() - t0
        if backend is not None:
            backend.close()
        metrics = compute_metrics(load_run(work / "run"))
    return {
        "workload": workload, "config": config, "wall_s": wall, "items": summary.items,
        "accepted": summary.accepted, "requests": summary.requests,
        "prompt_tokens": summary.prompt_tokens,
        "prompt_tokens_decoded": summary.prompt_tokens_decoded,
        "completion_tokens": summary.completion_tokens,
        "acceptance": summary.accepted / summary.items if summary.items else 0.0,
        "distinct_2": metrics.distinct_2,
        "unique_share": metrics.unique_share,
    }


def run_child(workload: str, config: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", workload, config, "--repeat", str(args.repeat),
           "--implicit-limit", str(args.implicit_limit), "--c2cap-limit", str(args.c2cap_limit),
           "--before-rev", args.before_rev]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"{workload}/{config} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(rows: list[dict[str, Any]], rounds: int, load: str) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, "
        f"{len(os.sched_getaffinity(0))} cores, load average at the end: {load} (this run's "
        f"own processes: about 2 on an otherwise idle machine); SmolLM2-135M Q4_1 on "
        f"llama.cpp (CPU), call cache off; median of "
        f"{rounds} alternating round(s). Compare ratios within this table only.",
        "",
        "| workload | config | wall s | vs before | prompt tokens | decoded | decoded share "
        "| accepted | distinct-2 | unique share |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        by_key.setdefault((r["workload"], r["config"]), []).append(r)
    for (workload, config), runs in by_key.items():
        wall = statistics.median(r["wall_s"] for r in runs)
        before = by_key.get((workload, "before"))
        ratio = (statistics.median(r["wall_s"] for r in before) / wall) if before else None
        r = runs[0]
        share = r["prompt_tokens_decoded"] / r["prompt_tokens"] if r["prompt_tokens"] else 0
        d2 = f"{r['distinct_2']:.3f}" if r.get("distinct_2") is not None else "-"
        us = f"{r['unique_share']:.1%}" if r.get("unique_share") is not None else "-"
        lines.append(
            f"| {workload} | {config} | {wall:.1f} | "
            f"{f'{ratio:.2f}x' if ratio else '-'} | {r['prompt_tokens']:,} | "
            f"{r['prompt_tokens_decoded']:,} | {share:.0%} | "
            f"{r['accepted']}/{r['items']} ({r['acceptance']:.0%}) | {d2} | {us} |")
    return "\n".join(lines)


def hf_prefill(n: int, rounds: int) -> str:
    """transformers: prefill of ``n`` edit prompts sharing a prefix, in full vs prefix once.

    The shared prefix (chat header, instructions, one example set) is run once
    at batch 1, its ``past_key_values`` repeated over the batch, and only the
    suffixes (left-padded after the prefix) are run at batch ``n``.
    """
    import random

    from instructgen.backends.hf import TransformersBackend, TransformersOptions
    from instructgen.plugins.edits import BUILTIN_EDIT_TYPES
    from instructgen.plugins.edits.prompts import edit_request, sample_examples

    etype = next(t for t in BUILTIN_EDIT_TYPES if t.name == "replace")
    data = json.loads((ROOT / "examples/edits/coco_captions.json").read_text())
    caps = [a["caption"] for a in data["annotations"]][:n]
    examples = sample_examples(etype, 5, random.Random(0), sets=1)
    reqs = [edit_request(etype, c, examples, max_tokens=64, temperature=0.0) for c in caps]
    b = TransformersBackend(TransformersOptions(n_ctx=2048, batch_size=n, device="cpu"))
    torch, model = b.loaded.torch, b.loaded.model
    prompts = [b.loaded.prompt_tokens(r) for r in reqs]
    shared = min(len(p) for p in prompts) - 1
    for p in prompts[1:]:
        shared = next((i for i in range(shared) if p[i] != prompts[0][i]), shared)

    def padded(rows: list[list[int]]) -> tuple[Any, Any]:
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), b.loaded.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, width - len(r):] = torch.tensor(r)
            mask[i, width - len(r):] = 1
        return ids, mask

    def full() -> Any:
        ids, mask = padded(prompts)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        return model(input_ids=ids, attention_mask=mask, position_ids=pos).logits[:, -1]

    def reused() -> Any:
        head = torch.tensor([prompts[0][:shared]])
        cache = model(input_ids=head, use_cache=True).past_key_values
        cache.batch_repeat_interleave(len(prompts))
        ids, smask = padded([p[shared:] for p in prompts])
        mask = torch.cat([torch.ones((len(prompts), shared), dtype=torch.long), smask], dim=1)
        pos = shared + (smask.cumsum(-1) - 1).clamp(min=0)
        return model(input_ids=ids, attention_mask=mask, position_ids=pos,
                     past_key_values=cache).logits[:, -1]

    times: dict[str, list[float]] = {"full": [], "reused": []}
    out: dict[str, Any] = {}
    with torch.inference_mode():
        for _ in range(rounds):
            for name, fn in (("full", full), ("reused", reused)):
                t0 = time.perf_counter()
                out[name] = fn().float()
                times[name].append(time.perf_counter() - t0)
    b.close()
    diff = (out["full"] - out["reused"]).abs().max().item()
    same = (out["full"].argmax(-1) == out["reused"].argmax(-1)).float().mean().item()
    tf, tr = statistics.median(times["full"]), statistics.median(times["reused"])
    total = sum(len(p) for p in prompts)
    return (f"transformers prefill, {n} edit prompts ({total:,} tokens, shared prefix "
            f"{shared} tokens), CPU, median of {rounds}: full {tf:.2f} s, prefix once "
            f"{tr:.2f} s ({tf / tr:.2f}x); last-position logits differ by at most {diff:.2e}, "
            f"greedy next token agrees for {same:.0%} of rows.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default="edit,implicit,c2cap")
    ap.add_argument("--configs", default="before,after")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=4, help="copies of the COCO captions (edit)")
    ap.add_argument("--implicit-limit", type=int, default=8)
    ap.add_argument("--c2cap-limit", type=int, default=48)
    ap.add_argument("--before-rev", default=BEFORE_REV)
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    ap.add_argument("--json", type=Path, help="also write the raw rows here")
    ap.add_argument("--hf", type=int, metavar="N", help="only the transformers prefill "
                    "experiment, N prompts")
    ap.add_argument("--child", nargs=2, metavar=("WORKLOAD", "CONFIG"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args)))
        return
    if args.hf:
        print(hf_prefill(args.hf, max(args.rounds, 3)))
        return
    rows = []
    for rnd in range(args.rounds):
        for workload in args.workloads.split(","):
            configs = [c for c in args.configs.split(",")
                       if workload == "edit" or not c.startswith(("sets", "batch"))]
            for config in configs:
                row = run_child(workload, config, args)
                row["round"] = rnd
                rows.append(row)
                print(json.dumps(row), flush=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    text = table(rows, args.rounds, load)
    print()
    print(text)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.write:
        write_block(DOC, BEGIN, END, text, insert=lambda doc, block: doc.replace(
            "\n## Backends\n", f"\n## Prefix reuse\n\n{block}\n\n## Backends\n", 1))


if __name__ == "__main__":
    main()
