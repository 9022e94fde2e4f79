"""Edit quality by reading (issue 27): precision of accepted records per path and type.

    python benchmarks/quality.py                            # model and rules, all 16 captions
    python benchmarks/quality.py --configs model_unchecked,rules:17+18   # rules over 2 seeds
    python benchmarks/quality.py --chains --chain-configs rules          # and rules' chains
    python benchmarks/quality.py --judge-eval --write       # and update docs/benchmarks.md

Every one of the eleven LLM edit types runs over the same captions: the
first ``--limit`` items of ``examples/edits/coco_captions.json`` (COCO, one
caption per image) and of ``examples/edits/llava_cc3m.json``; textual_change,
which needs quoted text, over ``examples/edits/anyword_data.json`` instead.
One run per type and seed, on the embedded SmolLM2-135M (llama.cpp, one
model load, the call cache on at ``--cache`` so that a rerun writes the same
records and meets their labels). With ``--chains``, 3-turn chains over the
COCO and LLaVA captions as well. Configurations (paths):

- ``model``: ``compose = "model"``, today's flow: the model writes the
  instruction and the output under item constraints; judge off;
- ``model_unchecked``: the same with the sense checks of
  :mod:`instructgen.plugins.edits.sense` switched off (patched out in this
  process), to measure what those checks alone do to precision;
- ``rules``: ``compose = "rules"``: the model only chooses the fields, rules
  write the instruction and the output;
- ``before`` and ``after_judge``: issue 17's baselines (plain schema with the
  judge; constraints with the judge).

Precision is good among accepted records, from the labels in
``benchmarks/labels/edits.jsonl`` (docs/labelling.md); an accepted record
without a label is written to ``benchmarks/labels/pending-edits.jsonl`` and
counted, and precision is over the labelled ones. Reported per path, and per
type: precision, good records per item, backend requests and seconds per
good record (seconds from the backend's own clock, on a shared machine:
compare paths of one invocation only), distinct-2 of the good instructions
at equal size, and for chains the share with every turn good. The sense
checks are also scored against the labels (how many bad records they catch,
how many good ones they drop), and with ``--judge-eval`` the judge's
balanced accuracy on the labelled records as well as on the synthetic
corruptions of :mod:`instructgen.plugins.edits.judge_eval`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import labelstore
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
#: A fixed draw size for distinct-2 of good records (issue 17 compared at 44 edits).
DISTINCT_SIZE = 44
#: Generator options of each path. ``model_unchecked`` also switches the sense checks off.
CONFIGS: dict[str, dict[str, Any]] = {
    "model": {"constrain": True, "judge": False, "compose": "model"},
    "model_unchecked": {"constrain": True, "judge": False, "compose": "model"},
    "rules": {"compose": "rules"},
    "before": {"constrain": False, "judge": True, "compose": "model"},
    "after_judge": {"constrain": True, "judge": True, "compose": "model"},
}
UNCHECKED = {"model_unchecked"}
CHAIN_TURNS = 3
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
    """Mean distinct-2 over ``DRAWS`` random subsets of the edits.

    ``sizes`` is either one size for the pooled edits, or a size per type
    (each draw pools that many edits of each type).
    """
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


@contextmanager
def sense_checks_off() -> Iterable[None]:
    """The edit generator without its sense checks, for the ``model_unchecked`` path."""
    from instructgen.plugins.edits import generator

    kept = generator.sense_checks
    generator.sense_checks = lambda etype: ()
    try:
        yield
    finally:
        generator.sense_checks = kept


def type_fields() -> dict[str, tuple[str, ...]]:
    from instructgen.plugins.edits import BUILTIN_EDIT_TYPES

    return {t.name: t.fields for t in BUILTIN_EDIT_TYPES}


def edit_row(turn: Mapping[str, Any], fields: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """One edit (or chain turn) as the labelled set stores it."""
    etype = str(turn["edit_type"])
    return {"key": labelstore.edit_key(etype, turn["edit"], turn["input"], turn["output"]),
            "edit_type": etype, "input": turn["input"], "edit": turn["edit"],
            "output": turn["output"],
            "fields": {f: turn[f] for f in fields.get(etype, ()) if f in turn}}


def run_config(name: str, overrides: dict[str, Any], items_files: dict[str, Path],
               types: list[str], backend: Any, backend_name: str,
               work: Path, *, seed: int = 17, cache: Path | None = None,
               turns: int = 1) -> dict[str, Any]:
    """Run one path over every type (``turns = 1``) or as chains over all types."""
    from instructgen.api import run
    from instructgen.report.diversity import distinct_n, unique_share

    fields = type_fields()
    per_type: dict[str, dict[str, Any]] = {}
    stages: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    edits: dict[str, list[str]] = {}
    rows: dict[str, list[Any]] = {}
    items = requests = completion_tokens = 0
    backend_s = 0.0
    started = time.perf_counter()
    groups = [(t, [t]) for t in types] if turns == 1 else [("multi_turn", types)]
    for group, group_types in groups:
        out = work / f"{name}-{seed}-{group}"
        recipe = {"seed": seed, "batch_size": 16, "max_retries": 1,
                  "output_dir": str(out),
                  "cache": ({"path": str(cache)} if cache else {"enabled": False}),
                  "source": {"name": "captions", "path": str(items_files[group_types[0]]),
                             "id_column": "id"},
                  "backend": {"name": backend_name},
                  "generator": {"name": "edit", "types": group_types, "turns": turns,
                                **overrides}}
        with sense_checks_off() if name in UNCHECKED else _nothing():
            summary = run(recipe, fresh=True, backend=backend)
        recs = records(out)
        items += summary.items
        asked = summary.requests + summary.cache_hits
        requests += asked
        completion_tokens += summary.completion_tokens
        if turns == 1:
            rows[group] = [edit_row(r["data"], fields) for r in recs]
        else:
            rows[group] = [[edit_row(t, fields) for t in r["data"]["turns"]] for r in recs]
        # Seconds the backend spent on these records over every run that asked it.
        spent = (labelstore.add_seconds("edits", f"{name}/seed{seed}/turns{turns}/{group}",
                                        summary.backend_s)
                 if backend_name != "fake" else summary.backend_s)
        per_type[group] = {"items": summary.items, "accepted": len(recs), "requests": asked,
                           "backend_s": round(spent, 1)}
        backend_s += spent
        edits[group] = [r["data"]["edit"] for r in recs if "edit" in r.get("data", {})]
        for rej in final_rejections(out):
            stages[str(rej.get("stage"))] += 1
            reasons[str(rej.get("reason"))] += 1
    accepted = sum(r["accepted"] for r in per_type.values())
    pooled = [e for type_edits in edits.values() for e in type_edits]
    after_prefilter = items - stages["prefilter"]
    after_checks = after_prefilter - stages["generate"] - stages["consistency"]
    return {
        "config": name, "seed": seed, "turns": turns, "overrides": overrides, "items": items,
        "accepted": accepted, "per_type": per_type, "rows": rows,
        "funnel": {"read": items, "after prefilter": after_prefilter,
                   "after consistency checks": after_checks, "accepted": accepted},
        "reasons": dict(reasons.most_common()),
        "distinct_2": round(distinct_n(pooled, 2), 3) if pooled else None,
        "unique_share": round(unique_share(pooled), 3) if pooled else None,
        "edits": edits,
        "requests": requests,
        "backend_s": round(backend_s, 1),
        "requests_per_accepted": round(requests / accepted, 2) if accepted else None,
        "completion_tokens_per_accepted": (round(completion_tokens / accepted)
                                           if accepted else None),
        "wall_s": round(time.perf_counter() - started, 1),
    }


@contextmanager
def _nothing() -> Iterable[None]:
    yield


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


# -- precision from the labels -----------------------------------------------------------


def _paths_of(result: Mapping[str, Any]) -> list[str]:
    return [f"{result['config']}/seed{result['seed']}/turns{result['turns']}"]


def meet_labels(results: Sequence[dict[str, Any]]) -> int:
    """Send unlabelled records to the pending file, note the paths of labelled ones;
    how many records were new to the pending file."""
    found: list[dict[str, Any]] = []
    for res in results:
        for group_rows in res["rows"].values():
            for rec in group_rows:
                for row in (rec if isinstance(rec, list) else [rec]):
                    found.append({**row, "paths": _paths_of(res)})
    labelstore.add_paths("edits", found)
    return labelstore.add_pending("edits", found)


def _verdicts(rows: Iterable[Mapping[str, Any]],
              labels: Mapping[str, Mapping[str, Any]]) -> tuple[int, int, int]:
    """(records, labelled, good) of ``rows``."""
    n = labelled = good = 0
    for row in rows:
        n += 1
        got = labels.get(row["key"])
        if got is not None:
            labelled += 1
            good += got["label"] == "good"
    return n, labelled, good


def _ratio(a: float, b: float, digits: int = 2) -> float | None:
    return round(a / b, digits) if b else None


def path_figures(results: Sequence[dict[str, Any]],
                 labels: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Precision and cost per path (configuration, over its seeds), overall and per type."""
    out: dict[str, dict[str, Any]] = {}
    for res in results:
        if res["turns"] != 1:
            continue
        fig = out.setdefault(res["config"], {"items": 0, "accepted": 0, "labelled": 0,
                                             "good": 0, "requests": 0, "backend_s": 0.0,
                                             "good_edits": {}, "per_type": {}})
        for etype, rows in res["rows"].items():
            n, labelled, good = _verdicts(rows, labels)
            pt = fig["per_type"].setdefault(etype, {"items": 0, "accepted": 0, "labelled": 0,
                                                    "good": 0, "requests": 0})
            for f, v in (("items", res["per_type"][etype]["items"]), ("accepted", n),
                         ("labelled", labelled), ("good", good),
                         ("requests", res["per_type"][etype]["requests"])):
                pt[f] += v
                fig[f] += v
            fig["backend_s"] += res["per_type"][etype]["backend_s"]
            fig["good_edits"].setdefault(etype, []).extend(
                r["edit"] for r in rows if labels.get(r["key"], {}).get("label") == "good")
    for fig in out.values():
        for part in (fig, *fig["per_type"].values()):
            part["precision"] = _ratio(part["good"], part["labelled"], 3)
            # Unlabelled records count at the labelled records' precision.
            if part["precision"] is None:
                part["good_per_item"] = part["requests_per_good"] = None
                continue
            est = part["accepted"] * part["precision"]
            part["good_per_item"] = _ratio(est, part["items"], 3)
            part["requests_per_good"] = _ratio(part["requests"], est)
        fig["seconds_per_good"] = _ratio(fig["backend_s"], fig["accepted"] * (
            fig["precision"] or 0), 1)
    return out


def chain_figures(results: Sequence[dict[str, Any]],
                  labels: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per path: chains, chains with every turn labelled, and those with every turn good."""
    out: dict[str, dict[str, Any]] = {}
    for res in results:
        if res["turns"] == 1:
            continue
        fig = out.setdefault(res["config"], {"items": 0, "chains": 0, "labelled": 0,
                                             "all_good": 0, "turns_good": 0, "turns": 0})
        fig["items"] += res["items"]
        for chain in res["rows"].get("multi_turn", []):
            fig["chains"] += 1
            got = [labels.get(t["key"]) for t in chain]
            fig["turns"] += sum(g is not None for g in got)
            fig["turns_good"] += sum(1 for g in got if g and g["label"] == "good")
            if all(g is not None for g in got):
                fig["labelled"] += 1
                fig["all_good"] += all(g["label"] == "good" for g in got)
    for fig in out.values():
        fig["share_all_good"] = _ratio(fig["all_good"], fig["labelled"], 3)
        fig["all_good_per_item"] = _ratio(fig["all_good"], fig["items"], 3)
    return out


def sense_scores(labels: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The sense checks against the labels: bad records caught, good records dropped."""
    from instructgen.plugins.edits import BUILTIN_EDIT_TYPES
    from instructgen.plugins.edits.sense import sense_checks

    types = {t.name: t for t in BUILTIN_EDIT_TYPES}
    flagged_bad = flagged_good = bad = good = 0
    by_check: Counter[str] = Counter()
    for row in labels.values():
        etype = types.get(row["edit_type"])
        if etype is None:
            continue
        result = {"edit": row["edit"], "output": row["output"], **row["fields"]}
        if any(f not in result for f in etype.fields):
            continue
        failed = next((c.name for c in sense_checks(etype) if c(row["input"], result)), None)
        is_bad = row["label"] == "bad"
        bad += is_bad
        good += not is_bad
        if failed is not None:
            by_check[f"{failed}:{row['label']}"] += 1
            flagged_bad += is_bad
            flagged_good += not is_bad
    return {"bad": bad, "good": good, "bad_caught": flagged_bad, "good_dropped": flagged_good,
            "recall_bad": _ratio(flagged_bad, bad, 3),
            "bad_among_flagged": _ratio(flagged_bad, flagged_bad + flagged_good, 3),
            "by_check": dict(by_check.most_common())}


def checks_alone(results: Sequence[dict[str, Any]],
                 labels: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """Precision of the ``model_unchecked`` path's accepted records before and after the
    sense checks (the same records, filtered by the checks)."""
    from instructgen.plugins.edits import BUILTIN_EDIT_TYPES
    from instructgen.plugins.edits.sense import sense_checks

    types = {t.name: t for t in BUILTIN_EDIT_TYPES}
    before = [0, 0]
    after = [0, 0]
    for res in results:
        if res["config"] not in UNCHECKED or res["turns"] != 1:
            continue
        for etype, rows in res["rows"].items():
            for row in rows:
                got = labels.get(row["key"])
                if got is None:
                    continue
                good = got["label"] == "good"
                before[0] += good
                before[1] += 1
                result = {"edit": row["edit"], "output": row["output"], **row["fields"]}
                if not any(c(row["input"], result) for c in sense_checks(types[etype])):
                    after[0] += good
                    after[1] += 1
    if not before[1]:
        return None
    return {"before": {"good": before[0], "accepted": before[1],
                       "precision": _ratio(before[0], before[1], 3)},
            "after": {"good": after[0], "accepted": after[1],
                      "precision": _ratio(after[0], after[1], 3)}}


def judge_on_labels(backend: Any, labels: Mapping[str, Mapping[str, Any]],
                    limit: int = 200, seed: int = 27) -> dict[str, Any] | None:
    """The judge's balanced accuracy on labelled records (good: yes, bad: no), json mode."""
    from instructgen.plugins.edits import BUILTIN_EDIT_TYPES
    from instructgen.plugins.edits.judge_eval import Case, evaluate

    types = {t.name: t for t in BUILTIN_EDIT_TYPES}
    rows = [r for r in labels.values() if r["edit_type"] in types]
    rows = random.Random(seed).sample(rows, min(limit, len(rows)))
    cases = [Case(types[r["edit_type"]], r["input"],
                  {"edit": r["edit"], "output": r["output"], **r["fields"]},
                  r["label"] == "good", r["label"]) for r in rows]
    if not cases or all(c.label for c in cases) or not any(c.label for c in cases):
        return None
    return evaluate(backend, cases, "json")


def _pct(v: float | None) -> str | None:
    return None if v is None else f"{v:.0%}"


def table(results: list[dict[str, Any]], labels: Mapping[str, Mapping[str, Any]],
          judge: dict[str, Any] | None, judge_labels: dict[str, Any] | None,
          new_pending: int) -> str:
    figs = path_figures(results, labels)
    names = list(figs)
    lines = ["| figure | " + " | ".join(f"`{n}`" for n in names) + " |",
             "|---|" + "---|" * len(names)]

    def row(label: str, values: list[Any]) -> None:
        lines.append(f"| {label} | " + " | ".join("–" if v is None else str(v)
                                                  for v in values) + " |")

    f = [figs[n] for n in names]
    row("**precision** (good / labelled accepted)",
        [f"**{_pct(x['precision'])}** ({x['good']} / {x['labelled']})"
         if x["precision"] is not None else None for x in f])
    row("good records per item", [x["good_per_item"] for x in f])
    row("backend requests per good record", [x["requests_per_good"] for x in f])
    row("backend seconds per good record (under load)", [x["seconds_per_good"] for x in f])
    smallest = min((sum(len(v) for v in x["good_edits"].values()) for x in f), default=0)
    row(f"distinct-2 of good instructions, size-matched ({smallest} per draw)",
        [matched_distinct(x["good_edits"], smallest) if smallest else None for x in f])
    # At the size issue 17 compared paths at: a path with fewer good records shows none.
    row(f"distinct-2 of good instructions, {DISTINCT_SIZE} per draw",
        [matched_distinct(x["good_edits"], DISTINCT_SIZE) for x in f])
    row("items (type × caption × seed)", [x["items"] for x in f])
    row("accepted records", [x["accepted"] for x in f])
    row("accepted not yet labelled", [x["accepted"] - x["labelled"] for x in f])
    row("types with good records", [sum(1 for t in x["per_type"].values() if t["good"])
                                     for x in f])
    chains = chain_figures(results, labels)
    if chains:
        c = [chains.get(n) for n in names]
        row(f"{CHAIN_TURNS}-turn chains with every turn good / labelled chains",
            [f"{_pct(x['share_all_good'])} ({x['all_good']} / {x['labelled']})"
             if x and x["share_all_good"] is not None else None for x in c])
        row("chains with every turn good per item", [x["all_good_per_item"] if x else None
                                                     for x in c])
    lines += ["", "| type | " + " | ".join(f"`{n}`: precision (good / labelled), good per item"
                                          for n in names) + " |",
              "|---|" + "---|" * len(names)]
    for etype in sorted({t for x in f for t in x["per_type"]}):
        cells = []
        for x in f:
            t = x["per_type"].get(etype)
            cells.append("–" if not t or t["precision"] is None else
                         f"{_pct(t['precision'])} ({t['good']} / {t['labelled']}), "
                         f"{t['good_per_item']}")
        lines.append(f"| `{etype}` | " + " | ".join(cells) + " |")
    alone = checks_alone(results, labels)
    if alone:
        lines += ["", f"Sense checks alone, on the `model_unchecked` records: precision "
                      f"{_pct(alone['before']['precision'])} ({alone['before']['good']} / "
                      f"{alone['before']['accepted']}) before, "
                      f"{_pct(alone['after']['precision'])} ({alone['after']['good']} / "
                      f"{alone['after']['accepted']}) among the records they let through."]
    score = sense_scores(labels)
    lines += ["", f"Sense checks on all {score['bad'] + score['good']} labelled edit records: "
                  f"they reject {score['bad_caught']} of {score['bad']} bad ones "
                  f"({_pct(score['recall_bad'])}) and {score['good_dropped']} of "
                  f"{score['good']} good ones."]
    if judge_labels:
        lines += ["", f"Judge (json) on {judge_labels['n']} labelled records: balanced "
                      f"accuracy {judge_labels['balanced_accuracy']:.2f} (yes to "
                      f"{_pct(judge_labels['yes_rate_good'])} of good, no to "
                      f"{_pct(judge_labels['no_rate_bad'])} of bad)."]
    if judge:
        lines += ["", f"Judge on the synthetic corruptions ({judge['n']} cases): balanced "
                      "accuracy " + ", ".join(f"{k} {v:.2f}"
                                               for k, v in judge["balanced_accuracy"].items())]
    lines += ["", f"Labelled edit records: {len(labels)}; records this run met without a "
                  f"label: {new_pending} new (in benchmarks/labels/pending-edits.jsonl)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="model,rules",
                    help="comma-separated paths, each optionally with its own seeds "
                         "(rules:17+18)")
    ap.add_argument("--seeds", default="17", help="comma-separated run seeds")
    ap.add_argument("--limit", type=int, default=8, help="items per source file (8: all)")
    ap.add_argument("--chains", action="store_true",
                    help=f"also {CHAIN_TURNS}-turn chains over the COCO and LLaVA captions")
    ap.add_argument("--chain-configs", default="",
                    help="with --chains, only these paths (comma-separated; default: all)")
    ap.add_argument("--backend", choices=["llamacpp", "fake"], default="llamacpp",
                    help="fake: check the script itself in seconds")
    ap.add_argument("--types", default="", help="comma-separated; default: all eleven")
    ap.add_argument("--cache", type=Path, default=ROOT / "benchmarks" / "labels" /
                    ".calls.sqlite", help="call cache (a rerun meets the labelled records)")
    ap.add_argument("--judge-eval", action="store_true",
                    help="also measure the judge on the labels and the synthetic set")
    ap.add_argument("--judge-from", type=Path, default=None,
                    help="the judge figures of an earlier --json (its judge asks the backend "
                         "directly, past the call cache)")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args(argv)

    from instructgen.plugins.edits import BUILTIN_EDIT_TYPES

    types = ([t for t in args.types.split(",") if t]
             or [t.name for t in BUILTIN_EDIT_TYPES if t.default_mix])
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s]
        # "rules:17+18" runs that path with its own seeds; a bare name takes --seeds.
        configs = [(c.partition(":")[0], [int(s) for s in c.partition(":")[2].split("+")]
                    if ":" in c else seeds) for c in args.configs.split(",") if c]
    except ValueError:
        print(f"--seeds / --configs: seeds must be integers: {args.seeds!r}, "
              f"{args.configs!r}", file=sys.stderr)
        return 2
    unknown = [c for c, _ in configs if c not in CONFIGS]
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
    judge = judge_labels = None
    try:
        with tempfile.TemporaryDirectory(prefix="quality-") as tmp:
            items_files = {t: captions(args.limit, Path(tmp),
                                       TYPE_SOURCES.get(t, DEFAULT_SOURCES)) for t in types}
            chain_types = [t for t in types if t not in TYPE_SOURCES]
            chain_only = {c for c in args.chain_configs.split(",") if c}
            for name, config_seeds in configs:
                for seed in config_seeds:
                    chained = args.chains and (not chain_only or name in chain_only)
                    runs = [(1, types)] + ([(CHAIN_TURNS, chain_types)] if chained else [])
                    for turns, run_types in runs:
                        res = run_config(name, CONFIGS[name], items_files, run_types, backend,
                                         args.backend, Path(tmp), seed=seed,
                                         cache=args.cache, turns=turns)
                        print(json.dumps({k: v for k, v in res.items() if k != "rows"}),
                              flush=True)
                        results.append(res)
        labels = labelstore.labels("edits")
        if args.judge_from is not None:
            earlier = json.loads(args.judge_from.read_text())
            judge, judge_labels = earlier.get("judge"), earlier.get("judge_labels")
        elif args.judge_eval:
            from instructgen.plugins.edits.judge_eval import evaluate_backend

            judge_labels = judge_on_labels(backend, labels)
            judge = evaluate_backend(backend, modes=("json",))
            print(json.dumps({"judge_labels": judge_labels, "judge": judge}), flush=True)
    finally:
        backend.close()
    # The fake's answers are not the embedded model's: they never join the labelled set.
    new_pending = meet_labels(results) if args.backend != "fake" else 0
    text = table(results, labels, judge, judge_labels, new_pending)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "judge": judge,
                                         "judge_labels": judge_labels}, indent=1))
    if args.write:
        write_block(ROOT / "docs" / "benchmarks.md", MARK_BEGIN, MARK_END, text,
                    insert=lambda doc, block: doc.rstrip("\n") + "\n\n" + block + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
