"""Edit quality on the embedded model (issue 17): acceptance per type, funnel, diversity, cost.

    python benchmarks/quality.py                          # before and after, all 16 captions
    python benchmarks/quality.py --limit 4 --configs after
    python benchmarks/quality.py --write                  # and update docs/benchmarks.md

Every one of the eleven LLM edit types runs over the same captions: the
first ``--limit`` items of ``examples/edits/coco_captions.json`` (COCO, one
caption per image) and of ``examples/edits/llava_cc3m.json``; textual_change,
which needs quoted text, over ``examples/edits/anyword_data.json`` instead.
One run per type, on the embedded SmolLM2-135M (llama.cpp, cache off, one
model load per configuration). Configurations:

- ``before``: the generator as it was before issue 17: the type's plain
  schema (``constrain = false``) and the judge on, as it was by default;
- ``after``: today's defaults: item constraints (``constrain = true``) and
  the judge off (it measured under 0.6 on this model);
- ``after_judge``: item constraints with the judge still on, so the
  constraints' effect is measured alone.

Reported per configuration: items and accepted records per type, the funnel
(read, after prefilter, after the consistency checks, accepted), distinct-2
and the unique share of the accepted instructions, and backend requests and
generated tokens per accepted record. Distinct-2 falls as a corpus grows, so
it is also given size-matched: the mean over random subsets of as many
accepted edits as the smallest configuration has, pooled and per type (each
type contributes as many edits as its smallest configuration accepted, which
also removes the effect of the type mix); with ``--judge-eval``, also the
judge's balanced accuracy on the labelled set of
:mod:`instructgen.plugins.edits.judge_eval`. The machine is shared and noisy:
compare the configurations of one invocation, not figures across invocations.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from docblock import write_block

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"coco": ("coco", "examples/edits/coco_captions.json"),
           "llava": ("llava_cc3m", "examples/edits/llava_cc3m.json"),
           "anyword": ("anyword", "examples/edits/anyword_data.json")}
#: Which example files each type runs over. COCO and LLaVA captions quote no
#: text, so textual_change (which edits quoted text, as AnyEdit does on
#: AnyWord-3M) runs over the AnyWord example, whose source quotes the OCR text
#: into the caption; every other type runs over COCO and LLaVA.
TYPE_SOURCES = {"textual_change": ("anyword",)}
DEFAULT_SOURCES = ("coco", "llava")
#: Random equal-size subsets drawn for the size-matched distinct-2.
DRAWS = 200
CONFIGS = {"before": {"constrain": False, "judge": True},
           "after": {"constrain": True, "judge": False},
           "after_judge": {"constrain": True, "judge": True}}
MARK_BEGIN = "<!-- quality:begin -->"
MARK_END = "<!-- quality:end -->"


def final_rejections(run_dir: Path) -> list[dict[str, Any]]:
    """The rejection lines that ended an item (retries say "retrying")."""
    path = run_dir / "rejects.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if "retrying" not in str(r.get("detail", ""))]


def records(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "records.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def matched_distinct(edits: dict[str, list[str]], sizes: dict[str, int] | int,
                     seed: int = 0) -> float | None:
    """Mean distinct-2 over ``DRAWS`` random subsets of the accepted edits.

    ``sizes`` is either one size for the pooled edits, or a size per type
    (each draw pools that many edits of each type).
    """
    import random

    from instructgen.report.diversity import distinct_n

    rng = random.Random(seed)
    values = []
    for _ in range(DRAWS):
        if isinstance(sizes, int):
            pool = [e for type_edits in edits.values() for e in type_edits]
            if sizes <= 0 or len(pool) < sizes:
                return None
            sample = rng.sample(pool, sizes)
        else:
            sample = [e for t, n in sizes.items() for e in rng.sample(edits.get(t, []), n)]
            if not sample:
                return None
        values.append(distinct_n(sample, 2))
    return round(sum(values) / len(values), 3)


def captions(limit: int, work: Path, sources: tuple[str, ...]) -> Path:
    """The first ``limit`` captions of each of ``sources``, as one JSONL file of items.

    Read through the project's own sources (COCO: one caption per image;
    AnyWord: the OCR text quoted into the caption), so the captions are those a
    recipe on these files would see.
    """
    from instructgen.manager import make_registry
    from instructgen.plan import resolve
    from instructgen.recipe import load_recipe

    rows = []
    for key in sources:
        source, path = SOURCES[key]
        plan = resolve(load_recipe({"source": {"name": source, "path": str(ROOT / path)},
                                    "generator": {"name": "edit"},
                                    "backend": {"name": "fake"},
                                    "output_dir": str(work / "unused")}), make_registry())
        src = plan.source.build()
        for i, item in enumerate(src):
            if i >= limit:
                break
            rows.append({"id": f"{key}-{item.id}", "caption": item.data["caption"]})
    out = work / f"captions-{'-'.join(sources)}.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out


def run_config(name: str, overrides: dict[str, Any], items_files: dict[str, Path],
               types: list[str], backend: Any, backend_name: str,
               work: Path) -> dict[str, Any]:
    from instructgen.api import run
    from instructgen.report.diversity import distinct_n, unique_share

    per_type: dict[str, dict[str, int]] = {}
    stages: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    edits: dict[str, list[str]] = {}
    items = requests = completion_tokens = 0
    started = time.perf_counter()
    for etype in types:
        out = work / f"{name}-{etype}"
        recipe = {"seed": 17, "batch_size": 16, "max_retries": 1,
                  "output_dir": str(out), "cache": {"enabled": False},
                  "source": {"name": "captions", "path": str(items_files[etype]),
                             "id_column": "id"},
                  "backend": {"name": backend_name},
                  "generator": {"name": "edit", "types": [etype], **overrides}}
        summary = run(recipe, fresh=True, backend=backend)
        recs = records(out)
        per_type[etype] = {"items": summary.items, "accepted": len(recs)}
        items += summary.items
        requests += summary.requests
        completion_tokens += summary.completion_tokens
        edits[etype] = [r["data"]["edit"] for r in recs if "edit" in r.get("data", {})]
        for rej in final_rejections(out):
            stages[str(rej.get("stage"))] += 1
            reasons[str(rej.get("reason"))] += 1
    accepted = sum(r["accepted"] for r in per_type.values())
    pooled = [e for type_edits in edits.values() for e in type_edits]
    after_prefilter = items - stages["prefilter"]
    after_checks = after_prefilter - stages["generate"] - stages["consistency"]
    return {
        "config": name, "overrides": overrides, "items": items,
        "accepted": accepted, "per_type": per_type,
        "funnel": {"read": items, "after prefilter": after_prefilter,
                   "after consistency checks": after_checks, "accepted": accepted},
        "reasons": dict(reasons.most_common()),
        "distinct_2": round(distinct_n(pooled, 2), 3) if pooled else None,
        "unique_share": round(unique_share(pooled), 3) if pooled else None,
        "edits": edits,
        "requests": requests,
        "requests_per_accepted": round(requests / accepted, 2) if accepted else None,
        "completion_tokens_per_accepted": (round(completion_tokens / accepted)
                                           if accepted else None),
        "wall_s": round(time.perf_counter() - started, 1),
    }


class EditTable:
    """Markdown tables of edit runs, one column per configuration: figures, then
    accepted / items per type. ``benchmarks/coupling.py`` builds its table with it too."""

    def __init__(self, results: list[dict[str, Any]]) -> None:
        self.results = results
        self.names = [r["config"] for r in results]
        self.lines = ["| figure | " + " | ".join(self.names) + " |",
                      "|---|" + "---|" * len(self.names)]
        self.row("items (type × caption)", [r["items"] for r in results])
        self.row("accepted records", [r["accepted"] for r in results])
        self.row("item acceptance", [f"{r['accepted'] / r['items']:.0%}" if r["items"] else None
                                     for r in results])

    def row(self, label: str, values: list[Any]) -> None:
        self.lines.append(f"| {label} | " + " | ".join("–" if v is None else str(v)
                                                       for v in values) + " |")

    def per_type(self) -> list[str]:
        """The figures, then the accepted / items table by type."""
        lines = [*self.lines, "",
                 "| type | " + " | ".join(f"{n}: accepted / items" for n in self.names) + " |",
                 "|---|" + "---|" * len(self.names)]
        for etype in self.results[0]["per_type"]:
            cells = [f"{r['per_type'][etype]['accepted']} / {r['per_type'][etype]['items']}"
                     for r in self.results]
            lines.append(f"| `{etype}` | " + " | ".join(cells) + " |")
        return lines


def table(results: list[dict[str, Any]], judge: dict[str, Any] | None) -> str:
    out = EditTable(results)
    row = out.row
    for stage in ("after prefilter", "after consistency checks"):
        row(f"funnel: {stage}", [r["funnel"][stage] for r in results])
    row("types with accepted records", [sum(1 for v in r["per_type"].values() if v["accepted"])
                                        for r in results])
    row("distinct-2 of accepted edits (all)", [r["distinct_2"] for r in results])
    smallest = min(r["accepted"] for r in results)
    row(f"distinct-2, size-matched ({smallest} edits per draw)",
        [matched_distinct(r["edits"], smallest) for r in results])
    per_type = {t: min(len(r["edits"].get(t, [])) for r in results)
                for t in results[0]["per_type"]}
    per_type = {t: n for t, n in per_type.items() if n}
    row(f"distinct-2, per type size-matched ({sum(per_type.values())} edits over "
        f"{len(per_type)} types per draw)", [matched_distinct(r["edits"], per_type)
                                             for r in results])
    row("unique share", [r["unique_share"] for r in results])
    row("backend requests per accepted record", [r["requests_per_accepted"] for r in results])
    row("generated tokens per accepted record",
        [r["completion_tokens_per_accepted"] for r in results])
    row("wall time (s)", [r["wall_s"] for r in results])
    lines = out.per_type()
    if judge:
        lines += ["", f"Judge on the labelled set ({judge['n']} cases): balanced accuracy "
                      + ", ".join(f"{k} {v:.2f}" for k, v in judge["balanced_accuracy"].items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="before,after")
    ap.add_argument("--limit", type=int, default=8, help="items per source file (8: all)")
    ap.add_argument("--examples", type=int, default=None,
                    help="few-shot examples per request in every configuration "
                         "(default: the generator's)")
    ap.add_argument("--max-tokens", type=int, default=None,
                    help="token limit of each edit answer in every configuration")
    ap.add_argument("--backend", choices=["llamacpp", "fake"], default="llamacpp",
                    help="fake: check the script itself in seconds")
    ap.add_argument("--types", default="", help="comma-separated; default: all eleven")
    ap.add_argument("--judge-eval", action="store_true",
                    help="also measure the judge on the labelled set")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args(argv)

    from instructgen.plugins.edits.generator import DEFAULT_TYPES

    types = [t for t in args.types.split(",") if t] or list(DEFAULT_TYPES)
    configs = [c for c in args.configs.split(",") if c]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        print(f"--configs: unknown {unknown} (known: {', '.join(CONFIGS)})", file=sys.stderr)
        return 2
    if args.backend == "fake":
        from instructgen.backends.fake import FakeBackend

        backend: Any = FakeBackend()
    else:
        from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

        backend = LlamaCppBackend(LlamaCppOptions(n_ctx=2048))
    results = []
    judge = None
    try:
        with tempfile.TemporaryDirectory(prefix="quality-") as tmp:
            items_files = {t: captions(args.limit, Path(tmp),
                                       TYPE_SOURCES.get(t, DEFAULT_SOURCES)) for t in types}
            for name in configs:
                common = {k: v for k, v in (("examples", args.examples),
                                            ("max_tokens", args.max_tokens)) if v is not None}
                res = run_config(name, {**common, **CONFIGS[name]}, items_files, types,
                                 backend, args.backend, Path(tmp))
                print(json.dumps(res), flush=True)
                results.append(res)
        if args.judge_eval:
            from instructgen.plugins.edits.judge_eval import evaluate_backend

            judge = evaluate_backend(backend)
            print(json.dumps(judge), flush=True)
    finally:
        backend.close()
    text = table(results, judge)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "judge": judge}, indent=1))
    if args.write:
        write_block(ROOT / "docs" / "benchmarks.md", MARK_BEGIN, MARK_END, text,
                    insert=lambda doc, block: doc.rstrip("\n") + "\n\n" + block + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
