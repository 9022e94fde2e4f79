"""Schema constraints on the embedded model (issue 17, point 5): acceptance before and after.

    python benchmarks/caption_quality.py                # c2cap, cb2cap, cc2cap, implicit
    python benchmarks/caption_quality.py --limit 8 --families c2cap
    python benchmarks/caption_quality.py --write        # and update docs/benchmarks.md

Each family runs its example recipe (``examples/concepts/*.toml``,
``examples/implicit/implicit.toml``) over the same first ``--limit`` items
twice, on one loaded SmolLM2-135M (llama.cpp, ``n_threads = 1``, batch 8,
cache off, no post-processors, a plain JSONL sink):

- ``before``: ``constrain = false``, the plain schema (strings of bounded
  length), every rule checked after the answer;
- ``after``: ``constrain = true``, the rules written into each request's
  schema patterns (captions: the concepts, the word limit, one sentence, no
  digits; implicit: word limits, the instruction's opening word, keywords).

``cb2cap`` uses one background per concept (``k = 1``), so an item is one
caption. For the caption families the unit is an item (one caption); for
``implicit`` it is a quadruple the model wrote (accepted records plus the
quadruples the checks rejected). Reported: items, units, accepted units,
acceptance (accepted / units), backend requests per accepted unit, and the
commonest final rejection reasons. The machine is shared and noisy: compare
the two configurations of one invocation, not figures across invocations.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from docblock import write_block

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("c2cap", "cb2cap", "cc2cap", "implicit")
CONFIGS = {"before": False, "after": True}
MARK_BEGIN = "<!-- caption-quality:begin -->"
MARK_END = "<!-- caption-quality:end -->"


def recipe_for(family: str, constrain: bool, limit: int, out: Path, backend: str,
               implicit_turns: int | None = None) -> dict:
    """The family's example recipe with the benchmark's settings."""
    folder = "implicit" if family == "implicit" else "concepts"
    recipe = tomllib.loads((ROOT / "examples" / folder / f"{family}.toml").read_text())
    recipe["source"]["path"] = str(ROOT / recipe["source"]["path"])
    recipe["generator"]["constrain"] = constrain
    if family == "cb2cap":
        recipe["generator"]["k"] = 1
    if family == "implicit" and implicit_turns is not None:
        recipe["generator"]["continue_turns"] = implicit_turns
    recipe.update({"limit": limit, "batch_size": 8, "output_dir": str(out),
                   "cache": {"enabled": False}, "postprocess": [],
                   "backend": {"name": backend}, "sink": {"name": "jsonl"}})
    return recipe


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_family(family: str, config: str, limit: int, backend: Any, backend_name: str,
               work: Path, implicit_turns: int | None = None) -> dict[str, Any]:
    from instructgen.api import run

    out = work / f"{family}-{config}"
    started = time.perf_counter()
    recipe = recipe_for(family, CONFIGS[config], limit, out, backend_name, implicit_turns)
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
    return {
        "family": family, "config": config, "items": summary.items, "units": units,
        "accepted": accepted, "acceptance": round(accepted / units, 3) if units else None,
        "requests": summary.requests,
        "requests_per_accepted": round(summary.requests / accepted, 2) if accepted else None,
        "final_rejections": sum(reasons.values()),
        "reasons": dict(reasons.most_common(4)),
        "wall_s": round(time.perf_counter() - started, 1),
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| family | config | items | units | accepted | acceptance | requests "
             "| requests per accepted | wall (s) | top final rejections |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        acc = "–" if r["acceptance"] is None else f"{r['acceptance']:.0%}"
        per = "–" if r["requests_per_accepted"] is None else r["requests_per_accepted"]
        why = "; ".join(f"{k} ×{v}" for k, v in r["reasons"].items()) or "–"
        lines.append(f"| `{r['family']}` | {r['config']} | {r['items']} | {r['units']} "
                     f"| {r['accepted']} | {acc} | {r['requests']} | {per} | {r['wall_s']} "
                     f"| {why} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--limit", type=int, default=24, help="items per family")
    ap.add_argument("--backend", choices=["llamacpp", "fake"], default="llamacpp",
                    help="fake: check the script itself in seconds")
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads")
    ap.add_argument("--implicit-turns", type=int, default=None,
                    help="continue_turns of implicit (default: the example recipe's 3)")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args(argv)
    families = [f for f in args.families.split(",") if f]
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        print(f"--families: unknown {unknown} (known: {', '.join(FAMILIES)})", file=sys.stderr)
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
                for config in CONFIGS:
                    res = run_family(family, config, args.limit, backend, args.backend,
                                     Path(tmp), args.implicit_turns)
                    print(json.dumps(res), flush=True)
                    results.append(res)
    finally:
        backend.close()
    text = table(results)
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
