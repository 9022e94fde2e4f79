"""Example sets (issue 14): the prefill they save against the diversity they cost.

    python benchmarks/example_sets.py                   # sets 0,2,4,8 x seeds 7,8
    python benchmarks/example_sets.py --write           # and update docs/benchmarks.md
    python benchmarks/example_sets.py --seeds 9 --sets 0,2 --json s9.json   # one more seed
    python benchmarks/example_sets.py --from-json s7.json s9.json --write  # table from saved rows
    python benchmarks/example_sets.py --shared-tokens   # only the per-request prefix check
    python benchmarks/example_sets.py --stream          # only the replayed long stream

The edit workload of ``benchmarks/prefix.py`` (the captions of
``examples/edits/coco_captions.json``, all eleven LLM edit types, five
examples, judge on, batch 16, embedded SmolLM2-135M on llama.cpp, call cache
off), run once per ``example_sets`` value and seed, each in its own process.
Per run: the decoded share of prompt tokens, acceptance, requests per
accepted record, and the diversity of the accepted instructions (distinct-2
and unique share, as ``instructgen report`` computes them).

distinct-2 falls as a corpus grows, so next to the report's figure the table
gives distinct-2 at equal size: the mean over 200 random subsets of as many
instructions as the smallest run accepted. The seeds measure noise: a
setting keeps diversity when its mean over the seeds is not below the
fresh-draw mean by more than the largest spread between two seeds of one
setting.

``--shared-tokens`` tokenizes the edit prompts of one type with the embedded
model's tokenizer and counts, per request, the prompt tokens it shares with
an earlier request (what the backend's in-batch sharing and prefix cache can
skip), with and without example sets. ``--stream`` replays a long mixed
stream of edit prompts through the backend's own prefix-cache code (no model
calls), since an 18-caption run is too short for the cache to settle. Token
counts, acceptance and diversity do not depend on machine load; wall times
are not reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from docblock import write_block
from prefix import ALL_TYPES, ROOT, recipe

DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- example-sets-benchmarks:begin -->", "<!-- example-sets-benchmarks:end -->"
SUBSETS = 200


def child(sets: int, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """One run of the edit workload in this process; its figures and accepted texts."""
    import instructgen
    from instructgen.report import compute_metrics, load_run
    from instructgen.report.rundata import detect_text_field, texts_of

    with tempfile.TemporaryDirectory(prefix="example-sets-") as tmp:
        work = Path(tmp)
        spec = recipe("edit", f"sets{sets}", work, args)
        spec["seed"] = seed
        spec["backend"]["n_threads"] = args.threads
        summary = instructgen.run(spec, fresh=True)
        run = load_run(work / "run")
        metrics = compute_metrics(run)
        field = detect_text_field(run.records)
        texts = [t for r in run.records for t in texts_of(r, field)] if field else []
    return {
        "sets": sets, "seed": seed, "items": summary.items, "accepted": summary.accepted,
        "requests": summary.requests, "prompt_tokens": summary.prompt_tokens,
        "prompt_tokens_decoded": summary.prompt_tokens_decoded,
        "completion_tokens": summary.completion_tokens,
        "distinct_2": metrics.distinct_2, "unique_share": metrics.unique_share,
        "texts": texts,
    }


def run_child(sets: int, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(sets), str(seed), "--repeat",
           str(args.repeat), "--threads", str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"sets {sets}, seed {seed} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def distinct_2_at(texts: list[str], size: int) -> float:
    """Mean distinct-2 over :data:`SUBSETS` random subsets of ``size`` texts (fixed seed)."""
    from instructgen.report.diversity import distinct_n

    if len(texts) <= size:
        return distinct_n(texts, 2)
    rng = random.Random(0)
    return statistics.fmean(distinct_n(rng.sample(texts, size), 2) for _ in range(SUBSETS))


def derive(rows: list[dict[str, Any]]) -> int:
    """Add the equal-size distinct-2 and the ratios to every row; returns the subset size."""
    size = min(len(r["texts"]) for r in rows)
    for r in rows:
        r["distinct_2_eq"] = distinct_2_at(r["texts"], size)
        r["share"] = r["prompt_tokens_decoded"] / r["prompt_tokens"] if r["prompt_tokens"] else 0
        r["acceptance"] = r["accepted"] / r["items"] if r["items"] else 0.0
        r["per_accepted"] = r["requests"] / r["accepted"] if r["accepted"] else float("inf")
    return size


def verdict(rows: list[dict[str, Any]]) -> tuple[dict[int, dict[str, float]], dict[str, float],
                                                 list[int]]:
    """Per setting the means over seeds, the noise per metric, and the settings that keep
    diversity (not below sets 0 by more than the noise on either metric)."""
    keys = ("share", "acceptance", "per_accepted", "distinct_2_eq", "unique_share")
    by_sets: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by_sets.setdefault(r["sets"], []).append(r)
    means = {s: {k: statistics.fmean(r[k] for r in rs) for k in keys}
             for s, rs in sorted(by_sets.items())}
    noise = {k: max((max(r[k] for r in rs) - min(r[k] for r in rs)
                     for rs in by_sets.values()), default=0.0)
             for k in ("distinct_2_eq", "unique_share")}
    base = means.get(0)
    keep = [s for s, m in means.items() if base is not None and all(
        m[k] >= base[k] - noise[k] for k in noise)]
    return means, noise, keep


def table(rows: list[dict[str, Any]], args: argparse.Namespace, load: str) -> str:
    size = derive(rows)
    means, noise, keep = verdict(rows)
    pooled: dict[int, list[str]] = {}
    for r in rows:
        pooled.setdefault(r["sets"], []).extend(r["texts"])
    pool_size = min(len(t) for t in pooled.values())
    fresh = {r["seed"]: r["distinct_2_eq"] for r in rows if r["sets"] == 0}
    paired: dict[int, str] = {}
    for s in means:
        pairs = [(r["distinct_2_eq"], fresh[r["seed"]]) for r in rows
                 if r["sets"] == s and r["seed"] in fresh]
        paired[s] = f"{sum(a >= b for a, b in pairs)} of {len(pairs)}" if s else "-"
    seeds = sorted({r["seed"] for r in rows})
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, "
        f"{len(os.sched_getaffinity(0))} cores shared with other work (load average at the "
        f"end: {load}); SmolLM2-135M Q4_1 on llama.cpp (CPU, {args.threads} thread), call "
        f"cache off, `python benchmarks/example_sets.py`. The edit workload of "
        f"`benchmarks/prefix.py`: the captions of `examples/edits/coco_captions.json` "
        f"(x{args.repeat}), all eleven LLM edit types, 5 examples, judge on, batch 16; "
        f"seeds {', '.join(map(str, seeds))}. Token counts, acceptance and diversity do not "
        f"depend on machine load. distinct-2 (eq.): mean over {SUBSETS} random subsets of "
        f"{size} accepted instructions (the smallest run's count), since distinct-2 falls as "
        f"a corpus grows.",
        "",
        "| example_sets | seed | prompt tokens | decoded | decoded share | accepted "
        "| requests / accepted | distinct-2 | distinct-2 (eq.) | unique share |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda r: (r["sets"], r["seed"])):
        lines.append(
            f"| {r['sets']} | {r['seed']} | {r['prompt_tokens']:,} | "
            f"{r['prompt_tokens_decoded']:,} | {r['share']:.0%} | "
            f"{r['accepted']}/{r['items']} ({r['acceptance']:.0%}) | {r['per_accepted']:.2f} | "
            f"{r['distinct_2'] or 0:.3f} | {r['distinct_2_eq']:.3f} | "
            f"{r['unique_share'] or 0:.1%} |")
    lines += ["", "Means over the seeds:", "",
              "| example_sets | decoded share | acceptance | requests / accepted "
              f"| distinct-2 (eq.) | seeds with distinct-2 (eq.) >= fresh "
              f"| distinct-2, seeds pooled ({pool_size}) | unique share | keeps diversity |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for s, m in means.items():
        lines.append(f"| {s} | {m['share']:.0%} | {m['acceptance']:.0%} | "
                     f"{m['per_accepted']:.2f} | {m['distinct_2_eq']:.3f} | {paired[s]} | "
                     f"{distinct_2_at(pooled[s], pool_size):.3f} | "
                     f"{m['unique_share']:.1%} | {'yes' if s in keep else 'no'} |")
    lines += ["", f"Noise (largest spread between the seeds of one setting): distinct-2 (eq.) "
              f"{noise['distinct_2_eq']:.3f}, unique share {noise['unique_share']:.1%}."]
    return "\n".join(lines)


def shared_tokens(type_name: str, sets: list[int], seed: int) -> str:
    """Per request, the prompt tokens shared with an earlier request, for ``type_name``.

    The requests are the edit generator's for the example COCO captions, one
    per caption with a per-item random generator, as the generator builds them
    (system message, then the examples, then the caption).
    """
    from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
    from instructgen.plugins.edits import BUILTIN_EDIT_TYPES
    from instructgen.plugins.edits.prompts import edit_request, sample_examples

    etype = next(t for t in BUILTIN_EDIT_TYPES if t.name == type_name)
    data = json.loads((ROOT / "examples/edits/coco_captions.json").read_text())
    caps = [a["caption"] for a in data["annotations"]]
    backend = LlamaCppBackend(LlamaCppOptions(n_threads=1))
    bare = [backend.loaded.prompt_tokens(edit_request(etype, c, [], max_tokens=64, temperature=0.7))
            for c in ("a dog", "the cat")]
    lines = [f"Shared prompt tokens per request, type `{type_name}`, the "
             f"{len(caps)} example COCO captions in file order, 5 examples, tokenized with the "
             f"embedded model's tokenizer; a request's shared tokens are its longest common "
             f"prefix with any earlier request (what in-batch sharing and the prefix cache "
             f"skip). The chat header and the type's instructions alone are "
             f"{_common(*bare)} tokens.", "",
             "| example_sets | prompt tokens / request | shared / request | shared share "
             "| requests sharing up to the caption |",
             "|---:|---:|---:|---:|---:|"]
    for n in sets:
        prompts, full = [], 0
        for i, cap in enumerate(caps):
            rng = random.Random(f"{seed}:{i}")
            examples = sample_examples(etype, 5, rng, sets=n)
            req = edit_request(etype, cap, examples, max_tokens=64, temperature=0.7)
            head = edit_request(etype, "", examples, max_tokens=64, temperature=0.7)
            prompts.append((backend.loaded.prompt_tokens(req), backend.loaded.prompt_tokens(head)))
        shared, whole = [], 0
        for i, (p, head) in enumerate(prompts):
            best = max((_common(p, q) for q, _ in prompts[:i]), default=0)
            shared.append(best)
            # Everything before the caption's own tokens came from an earlier request.
            whole += i > 0 and best >= _common(p, head)
            full += len(p)
        total = sum(shared)
        lines.append(f"| {n} | {full / len(prompts):.0f} | {total / len(prompts):.0f} | "
                     f"{total / full:.0%} | {whole}/{len(prompts) - 1} |")
    backend.close()
    return "\n".join(lines)


class _NoKV:
    """Stands in for llama.cpp's KV calls, so the backend's own cache policy can be replayed."""

    def llama_memory_seq_cp(self, *args: Any) -> None:
        pass

    def llama_memory_seq_rm(self, *args: Any) -> None:
        pass


def stream(sets: list[int], items: int, seed: int, budgets: list[int], batch: int = 16) -> str:
    """Decoded share of a long mixed edit stream, replaying the backend's prefix reuse.

    ``items`` requests over the eleven LLM edit types (``textual_change`` left out:
    the prefilter drops it on COCO captions before any model call), each with
    its own random generator for the type and the examples, as the generator
    draws them. Requests go in batches of ``batch``; a request reuses the longest
    prefix it shares with an earlier request of its batch or with an entry of
    the backend's :class:`PrefixCache` (each of ``budgets`` tokens, its real eviction
    code), and offers its prefix (everything before the caption's message) to
    the cache. No retries, no judge: the answers' effect on later requests is
    not modelled.
    """
    from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
    from instructgen.backends.llamacpp.prefix import PrefixCache
    from instructgen.plugins.edits import BUILTIN_EDIT_TYPES
    from instructgen.plugins.edits.prompts import edit_request, sample_examples

    types = [t for t in BUILTIN_EDIT_TYPES if t.name in ALL_TYPES and t.name != "textual_change"]
    data = json.loads((ROOT / "examples/edits/coco_captions.json").read_text())
    caps = [a["caption"] for a in data["annotations"]]
    backend = LlamaCppBackend(LlamaCppOptions(n_threads=1))
    heads = "".join(f" cache {b:,} |" for b in budgets)
    lines = [f"Replayed stream: {items} edit requests (seed {seed}) over the ten LLM edit "
             f"types that reach the model on COCO captions, 5 examples, batches of {batch}; "
             f"decoded share of prompt tokens with the backend's `PrefixCache` (its code, KV "
             f"calls left out) of the given `prefix_cache_tokens`, and with an unbounded one "
             f"(ideal).", "",
             f"| example_sets | prompt tokens / request |{heads} ideal |",
             "|---:|---:|" + "---:|" * (len(budgets) + 1)]
    for n in sets:
        prompts = []
        for i in range(items):
            rng = random.Random(f"{seed}:{i}")
            etype = rng.choice(types)
            req = edit_request(etype, caps[i % len(caps)], sample_examples(etype, 5, rng, sets=n),
                               max_tokens=64, temperature=0.7)
            tokens = backend.loaded.prompt_tokens(req)
            prompts.append((tokens, backend.loaded.prefix_boundary(req, tokens)))
        total = sum(len(p) for p, _ in prompts)
        shares = []
        for size in (*budgets, 10**9):
            cache = PrefixCache(_NoKV(), None, list(range(64)), size)
            decoded = 0
            for start in range(0, len(prompts), batch):
                done: list[list[int]] = []
                for p, boundary in prompts[start:start + batch]:
                    limit = len(p) - 1
                    ready = max([cache.match(p, limit)[0]] + [_common(p, q) for q in done])
                    decoded += len(p) - min(ready, limit)
                    done.append(p)
                    if boundary:
                        cache.insert(0, p[:boundary])
            shares.append(decoded / total)
        lines.append(f"| {n} | {total / items:.0f} | "
                     + " | ".join(f"{x:.0%}" for x in shares) + " |")
    backend.close()
    return "\n".join(lines)


def _common(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="0,2,4,8", help="example_sets values, comma-separated")
    ap.add_argument("--seeds", default="7,8", help="run seeds, comma-separated")
    ap.add_argument("--repeat", type=int, default=1, help="copies of the COCO captions")
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads per run")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    ap.add_argument("--json", type=Path, help="also write the raw rows here")
    ap.add_argument("--from-json", type=Path, nargs="+",
                    help="build the table from rows saved by --json (one or more files)")
    ap.add_argument("--shared-tokens", metavar="TYPE", nargs="?", const="replace",
                    help="only the shared-prefix token count for one edit type")
    ap.add_argument("--stream", action="store_true",
                    help="only the replayed stream (decoded share by example_sets)")
    ap.add_argument("--items", type=int, default=360, help="requests of the replayed stream")
    ap.add_argument("--no-replay", action="store_true",
                    help="leave the shared-token and replayed-stream tables out")
    ap.add_argument("--budgets", default="8192,16384,32768",
                    help="prefix_cache_tokens values to replay (--stream), comma-separated")
    ap.add_argument("--child", nargs=2, type=int, metavar=("SETS", "SEED"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.implicit_limit = args.c2cap_limit = 0  # recipe() reads them for other workloads
    sets = [int(s) for s in args.sets.split(",")]
    if args.child:
        print(json.dumps(child(*args.child, args)))
        return
    if args.shared_tokens:
        print(shared_tokens(args.shared_tokens, sets, 7))
        return
    if args.stream:
        print(stream(sets, args.items, 7, [int(b) for b in args.budgets.split(",")]))
        return
    if args.from_json:
        rows = [r for path in args.from_json for r in json.loads(path.read_text())]
    else:
        rows = []
        for seed in (int(s) for s in args.seeds.split(",")):
            for n in sets:
                row = run_child(n, seed, args)
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "texts"}), flush=True)
                if args.json:
                    args.json.write_text(json.dumps(rows, indent=1))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    text = table(rows, args, load)
    if not args.no_replay:  # load-independent, so they always go with the table
        budgets = [int(b) for b in args.budgets.split(",")]
        replay = sorted({*sets, *(r["sets"] for r in rows), 1})
        text += "\n\n" + shared_tokens("replace", replay, 7)
        text += "\n\n" + stream(replay, args.items, 7, budgets)
    print()
    print(text)
    if args.write:
        write_block(DOC, BEGIN, END, text, insert=lambda doc, block: doc.replace(
            "\n## Peers\n", f"\n### Example sets\n\n{block}\n\n## Peers\n", 1))


if __name__ == "__main__":
    main()
