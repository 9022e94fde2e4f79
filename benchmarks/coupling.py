"""Coupled fields on the embedded model (issue 17): one grammar against two calls against none.

    python benchmarks/coupling.py                     # all ten types, 8 + 8 captions
    python benchmarks/coupling.py --limit 2 --types remove --configs none,grammar
    python benchmarks/coupling.py --write             # and update docs/benchmarks.md

The edit generator's ``couple`` option ties an answer's fields together
(``instructgen.plugins.edits.coupling``). Each configuration runs every type
with cross-field rules over the same captions (the first ``--limit`` of the
COCO and LLaVA example files, read by ``benchmarks/quality.py``), with item
constraints on, the judge off, cache off, on one loaded SmolLM2-135M:

- ``none``: ``couple = "off"``, each field constrained alone;
- ``grammar``: one schema, a branch per caption object;
- ``two_calls``: the fields first, then edit and output built from them.

Reported: accepted records, the final rejections the coupled rules cover,
backend requests and generated tokens per accepted record, distinct-2 of the
accepted edits, wall time, and the time llguidance spent compiling the
requests' schemas. Acceptance and token counts do not depend on load; wall
time does: compare configurations of one invocation only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from docblock import write_block
from quality import DEFAULT_SOURCES, EditTable, captions, run_config

ROOT = Path(__file__).resolve().parents[1]
TYPES = ["remove", "replace", "add", "color_alter", "appearance_alter", "material_alter",
         "texture_alter", "action_change", "background_change", "tone_transfer"]
CONFIGS = {"none": "off", "grammar": "grammar", "two_calls": "two_calls"}
#: The rejections the coupled rules say in advance (``coupling.coupled_checks``).
COUPLED = ("output_unchanged", "edited_object_still_in_output", "edited_object_not_in_output",
           "new_object_not_in_output", "new_background_not_in_output",
           "new_state_not_in_output")
MARK_BEGIN = "<!-- coupling:begin -->"
MARK_END = "<!-- coupling:end -->"


class Meter:
    """Counts generated tokens and schema compile time of every request a backend gets."""

    def __init__(self, backend: Any) -> None:
        self.tokens = 0
        self.compile_s = 0.0
        self.schemas = 0
        inner = backend.generate

        def generate(requests: Any) -> Any:
            from instructgen.backends.constrain import compile_schema

            for req in requests:
                if req.schema is not None:
                    started = time.perf_counter()
                    compile_schema(req.schema)  # cached: the backend's own compile is free
                    self.compile_s += time.perf_counter() - started
                    self.schemas += 1
            out = inner(requests)
            self.tokens += sum(c.completion_tokens or 0 for c in out)
            return out

        backend.generate = generate

    def reset(self) -> dict[str, Any]:
        from instructgen.backends.constrain import _compile

        figures = {"completion_tokens": self.tokens, "compile_s": round(self.compile_s, 2),
                   "schemas": self.schemas}
        self.tokens, self.compile_s, self.schemas = 0, 0.0, 0
        _compile.cache_clear()
        return figures


def merge(results: dict[str, dict[str, Any]], name: str, res: dict[str, Any]) -> None:
    """Add one type's run of configuration ``name`` to its running totals."""
    total = results.setdefault(name, {"config": name, "items": 0, "accepted": 0,
                                      "per_type": {}, "reasons": {}, "requests": 0,
                                      "completion_tokens": 0, "wall_s": 0.0,
                                      "compile_s": 0.0, "schemas": 0, "edits": []})
    for key in ("items", "accepted", "requests", "completion_tokens", "wall_s", "compile_s",
                "schemas"):
        total[key] = round(total[key] + res[key], 2)
    total["per_type"].update(res["per_type"])
    for reason, n in res["reasons"].items():
        total["reasons"][reason] = total["reasons"].get(reason, 0) + n
    total["edits"] += [e for type_edits in res["edits"].values() for e in type_edits]


def finish(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-configuration figures the table shows."""
    from instructgen.report.diversity import distinct_n

    out = []
    for res in results.values():
        acc = res["accepted"]
        out.append({**{k: v for k, v in res.items() if k != "edits"},
                    "distinct_2": round(distinct_n(res["edits"], 2), 3) if res["edits"]
                    else None,
                    "requests_per_accepted": round(res["requests"] / acc, 2) if acc else None,
                    "tokens_per_accepted": round(res["completion_tokens"] / acc, 1) if acc
                    else None,
                    "compile_ms_per_schema": (round(1000 * res["compile_s"] / res["schemas"], 1)
                                              if res["schemas"] else None),
                    "coupled_rejections": sum(res["reasons"].get(r, 0) for r in COUPLED)})
    return out


def table(results: list[dict[str, Any]]) -> str:
    out = EditTable(results)
    row = out.row
    row("final rejections by coupled rules", [r["coupled_rejections"] for r in results])
    row("backend requests per accepted record", [r["requests_per_accepted"] for r in results])
    row("generated tokens per accepted record", [r["tokens_per_accepted"] for r in results])
    row("distinct-2 of accepted edits", [r["distinct_2"] for r in results])
    row("wall time (s)", [r["wall_s"] for r in results])
    row("schema compile time (s)", [r["compile_s"] for r in results])
    row("schema compile per request (ms)", [r["compile_ms_per_schema"] for r in results])
    return "\n".join(out.per_type())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--limit", type=int, default=8, help="items per source file (8: all)")
    ap.add_argument("--types", default=",".join(TYPES))
    ap.add_argument("--examples", type=int, default=None,
                    help="few-shot examples per request (default: the generator's)")
    ap.add_argument("--max-tokens", type=int, default=None, help="token limit of each answer")
    ap.add_argument("--backend", choices=["llamacpp", "fake"], default="llamacpp",
                    help="fake: check the script itself in seconds")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        print(f"--configs: unknown {unknown} (known: {', '.join(CONFIGS)})", file=sys.stderr)
        return 2
    types = [t for t in args.types.split(",") if t]
    if args.backend == "fake":
        from instructgen.backends.fake import FakeBackend

        backend: Any = FakeBackend()
    else:
        from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

        backend = LlamaCppBackend(LlamaCppOptions(n_ctx=2048))
    meter = Meter(backend)
    results: dict[str, dict[str, Any]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="coupling-") as tmp:
            items_file = captions(args.limit, Path(tmp), DEFAULT_SOURCES)
            meter.reset()
            # Type by type, every configuration in turn: a run cut short still compares
            # the configurations over the same types.
            for etype in types:
                for name in configs:
                    common = {k: v for k, v in (("examples", args.examples),
                                                ("max_tokens", args.max_tokens))
                              if v is not None}
                    res = run_config(name, {**common, "constrain": True, "judge": False,
                                            "couple": CONFIGS[name]},
                                     {etype: items_file}, [etype], backend, args.backend,
                                     Path(tmp) / etype)
                    res.update(meter.reset())
                    merge(results, name, res)
                    print(json.dumps({k: v for k, v in res.items() if k != "edits"}),
                          flush=True)
                if args.json:
                    args.json.write_text(json.dumps(finish(results), indent=1))
    finally:
        backend.close()
    final = finish(results)
    if args.json:
        args.json.write_text(json.dumps(final, indent=1))
    text = table(final)
    load = os.getloadavg()[0]
    flags = " ".join(f"{k} {v}" for k, v in (("--examples", args.examples),
                                             ("--max-tokens", args.max_tokens)) if v is not None)
    text += (f"\n\nMeasured with `python benchmarks/coupling.py --limit {args.limit} "
             f"--types {','.join(types)} {flags}` on "
             f"{os.cpu_count()} CPU cores, load average {load:.1f} at the end (wall times are "
             f"noisy under load; acceptance and token counts are not).")
    print(text)
    if args.write:
        write_block(ROOT / "docs" / "benchmarks.md", MARK_BEGIN, MARK_END, text,
                    insert=lambda doc, block: doc.rstrip("\n") + "\n\n" + block + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
