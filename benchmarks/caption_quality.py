"""Caption quality by reading (issue 27): precision of accepted captions per family and path.

    python benchmarks/caption_quality.py                # c2cap, cb2cap, cc2cap, implicit
    python benchmarks/caption_quality.py --limit 8 --families c2cap --paths model
    python benchmarks/caption_quality.py --write        # and update docs/benchmarks.md

Each family runs its example recipe (``examples/concepts/*.toml``,
``examples/implicit/implicit.toml``) over the same first ``--limit`` items,
on one loaded SmolLM2-135M (llama.cpp, ``n_threads = 1``, batch 8, the call
cache on at ``--cache`` so a rerun writes the same captions and meets their
labels, no post-processors, a plain JSONL sink). Paths:

- ``model``: ``compose = "model"``: the model writes the sentence under the
  caption rules written into the schema (``constrain = true``);
- ``template``: ``compose = "template"``: the model picks fields from closed
  lists (implicit: which events a turn uses) and a template bank writes;
- ``before``: ``compose = "model"``, ``constrain = false`` (issue 17's baseline).

``cb2cap`` uses one background per concept (``k = 1``), so an item is one
caption. For ``implicit`` the unit is a quadruple the model wrote (caption
before, instruction, caption after), read as one record. Precision is good
among accepted captions, from the labels in
``benchmarks/labels/captions.jsonl`` (docs/labelling.md); an accepted
caption without a label goes to ``benchmarks/labels/pending-captions.jsonl``
and is counted. Reported per family and path: precision, good captions per
item, backend requests and seconds per good caption (seconds under load:
compare paths of one invocation only), distinct-2 of the good captions at
equal size, and the commonest final rejection reasons.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import labelstore
from docblock import write_block

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("c2cap", "cb2cap", "cc2cap", "implicit")
#: Generator options of each path.
PATHS: dict[str, dict[str, Any]] = {
    "model": {"compose": "model", "constrain": True},
    "template": {"compose": "template"},
    "before": {"compose": "model", "constrain": False},
}
MARK_BEGIN = "<!-- caption-quality:begin -->"
MARK_END = "<!-- caption-quality:end -->"


def recipe_for(family: str, path: str, limit: int, out: Path, backend: str,
               implicit_turns: int | None = None, cache: Path | None = None) -> dict:
    """The family's example recipe with the benchmark's settings."""
    folder = "implicit" if family == "implicit" else "concepts"
    recipe = tomllib.loads((ROOT / "examples" / folder / f"{family}.toml").read_text())
    recipe["source"]["path"] = str(ROOT / recipe["source"]["path"])
    recipe["generator"].update(PATHS[path])
    if family == "cb2cap":
        recipe["generator"]["k"] = 1
    if family == "implicit" and implicit_turns is not None:
        recipe["generator"]["continue_turns"] = implicit_turns
    recipe.update({"limit": limit, "batch_size": 8, "output_dir": str(out),
                   "cache": {"path": str(cache)} if cache else {"enabled": False},
                   "postprocess": [], "backend": {"name": backend}, "sink": {"name": "jsonl"}})
    return recipe


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def caption_row(family: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """One accepted caption (or implicit quadruple) as the labelled set stores it."""
    if family == "implicit":
        text = (f"{data['original_caption']} | {data['instruction']} | "
                f"{data['target_caption']}")
        extra = {"original_caption": data["original_caption"],
                 "instruction": data["instruction"], "target_caption": data["target_caption"],
                 "keywords": data.get("keywords", [])}
    else:
        text = data["caption"]
        extra = {k: data[k] for k in ("concept", "concepts", "background") if k in data}
    return {"key": labelstore.caption_key(family, text), "family": family, "caption": text,
            **extra}


def run_family(family: str, path: str, limit: int, backend: Any, backend_name: str,
               work: Path, implicit_turns: int | None = None,
               cache: Path | None = None) -> dict[str, Any]:
    from instructgen.api import run

    out = work / f"{family}-{path}"
    started = time.perf_counter()
    recipe = recipe_for(family, path, limit, out, backend_name, implicit_turns, cache)
    summary = run(recipe, fresh=True, backend=backend)
    recs, rejects = _lines(out / "records.jsonl"), _lines(out / "rejects.jsonl")
    if family == "implicit":  # one unit per quadruple: records and per-quadruple rejections
        accepted = len(recs)
        units = accepted + sum(1 for r in rejects if "index" in (r.get("data") or {}))
        reasons = Counter(r["reason"] for r in rejects)
    else:
        accepted = len({r["item_id"] for r in recs})
        units = summary.items
        reasons = Counter(f"{r['reason']}: {r['detail'].split(' (after')[0].split(':')[0]}"
                          for r in rejects)
    asked = summary.requests + summary.cache_hits
    # Seconds the backend spent on these captions over every run that asked it.
    spent = (labelstore.add_seconds("captions", f"{family}/{path}", summary.backend_s)
             if backend_name != "fake" else summary.backend_s)
    return {
        "family": family, "config": path, "items": summary.items, "units": units,
        "accepted": accepted, "acceptance": round(accepted / units, 3) if units else None,
        "requests": asked, "backend_s": round(spent, 1),
        "requests_per_accepted": round(asked / accepted, 2) if accepted else None,
        "final_rejections": sum(reasons.values()),
        "reasons": dict(reasons.most_common(4)),
        "rows": [caption_row(family, r["data"]) for r in recs],
        "wall_s": round(time.perf_counter() - started, 1),
    }


def meet_labels(results: Sequence[dict[str, Any]]) -> int:
    """Unlabelled captions to the pending file; how many were new there."""
    found = [{**row, "paths": [f"{r['family']}/{r['config']}"]}
             for r in results for row in r["rows"]]
    labelstore.add_paths("captions", found)
    return labelstore.add_pending("captions", found)


def figures(res: Mapping[str, Any], labels: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Precision, good per item and cost per good caption of one run."""
    got = [labels.get(r["key"]) for r in res["rows"]]
    labelled = [g for g in got if g is not None]
    good = sum(g["label"] == "good" for g in labelled)
    precision = good / len(labelled) if labelled else None
    est = res["accepted"] * precision if precision is not None else None
    return {"labelled": len(labelled), "good": good, "precision": precision,
            "good_per_unit": round(est / res["units"], 3) if est is not None and res["units"]
            else None,
            "requests_per_good": round(res["requests"] / est, 2) if est else None,
            "seconds_per_good": round(res["backend_s"] / est, 1) if est else None,
            "good_captions": [r["caption"] for r, g in zip(res["rows"], got, strict=True)
                              if g is not None and g["label"] == "good"]}


def table(results: list[dict[str, Any]], labels: Mapping[str, Mapping[str, Any]],
          new_pending: int) -> str:
    from quality import matched_distinct

    figs = [figures(r, labels) for r in results]
    smallest: dict[str, int] = {}
    for r, f in zip(results, figs, strict=True):
        n = len(f["good_captions"])
        smallest[r["family"]] = min(smallest.get(r["family"], n), n)
    lines = ["| family | path | **precision** (good / labelled) | good per item | "
             "requests per good | seconds per good (under load) | distinct-2 of good, "
             "size-matched | items | units | accepted | not yet labelled | "
             "top final rejections |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r, f in zip(results, figs, strict=True):
        prec = ("–" if f["precision"] is None
                else f"**{f['precision']:.0%}** ({f['good']} / {f['labelled']})")
        size = smallest[r["family"]]
        d2 = (matched_distinct({"all": f["good_captions"]}, size) if size >= 2 else None)
        why = "; ".join(f"{k} ×{v}" for k, v in r["reasons"].items()) or "–"
        cells = [prec, f["good_per_unit"], f["requests_per_good"], f["seconds_per_good"],
                 f"{d2} ({size})" if d2 is not None else None, r["items"], r["units"],
                 r["accepted"], r["accepted"] - f["labelled"], why]
        lines.append(f"| `{r['family']}` | {r['config']} | "
                     + " | ".join("–" if c is None else str(c) for c in cells) + " |")
    lines += ["", f"Labelled captions: {len(labels)}; captions this run met without a label: "
                  f"{new_pending} new (in benchmarks/labels/pending-captions.jsonl)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--paths", default="model,template",
                    help=f"comma-separated, of {', '.join(PATHS)}")
    ap.add_argument("--limit", type=int, default=24, help="items per family")
    ap.add_argument("--backend", choices=["llamacpp", "fake"], default="llamacpp",
                    help="fake: check the script itself in seconds")
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads")
    ap.add_argument("--implicit-limit", type=int, default=None,
                    help="items (seeds) of implicit (default: --limit)")
    ap.add_argument("--implicit-turns", type=int, default=None,
                    help="continue_turns of implicit (default: the example recipe's 3)")
    ap.add_argument("--cache", type=Path, default=ROOT / "benchmarks" / "labels" /
                    ".calls.sqlite", help="call cache (a rerun meets the labelled captions)")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args(argv)
    families = [f for f in args.families.split(",") if f]
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        print(f"--families: unknown {unknown} (known: {', '.join(FAMILIES)})", file=sys.stderr)
        return 2
    paths = [p for p in args.paths.split(",") if p]
    unknown = [p for p in paths if p not in PATHS]
    if unknown:
        print(f"--paths: unknown {unknown} (known: {', '.join(PATHS)})", file=sys.stderr)
        return 2
    if args.backend == "fake":
        from instructgen.backends.fake import FakeBackend

        backend: Any = FakeBackend()
    else:
        from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

        backend = LlamaCppBackend(LlamaCppOptions(n_ctx=2048, n_threads=args.threads))
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="caption-quality-") as tmp:
            for family in families:
                for path in paths:
                    limit = (args.implicit_limit if family == "implicit"
                             and args.implicit_limit is not None else args.limit)
                    res = run_family(family, path, limit, backend, args.backend,
                                     Path(tmp), args.implicit_turns, args.cache)
                    print(json.dumps({k: v for k, v in res.items() if k != "rows"}),
                          flush=True)
                    results.append(res)
    finally:
        backend.close()
    # The fake's captions are not the embedded model's: they never join the labelled set.
    new_pending = meet_labels(results) if args.backend != "fake" else 0
    text = table(results, labelstore.labels("captions"), new_pending)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if args.write:
        write_block(ROOT / "docs" / "benchmarks.md", MARK_BEGIN, MARK_END, text,
                    insert=lambda doc, block: doc.replace("\n## Backends\n",
                                                        f"\n{block}\n\n## Backends\n", 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
