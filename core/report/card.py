"""The dataset card: a README for a run directory, written from its files.

It says what generated the data (model, backend, recipe, plugin versions,
seed), how big it is, what types it has and its known limits, in the
Hugging Face dataset-card layout (YAML front matter, then Markdown).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping

from .markdown import judge_text, num, pct, precision_text, table
from .metrics import RunMetrics
from .rundata import RunData, payload

#: Hugging Face's size buckets, upper bounds exclusive.
_SIZE_BUCKETS = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                 (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))
#: Models small enough that their answers need a warning.
_SMALL_MODEL_HINTS = ("135m", "360m", "0.5b", "tiny")
NEAR_DUPLICATE_WARNING = 0.1


def size_category(n: int) -> str:
    return next((label for bound, label in _SIZE_BUCKETS if n < bound), "n>10M")


def _yaml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML scalar


def field_rows(run: RunData) -> list[list[str]]:
    """Each payload key, the JSON types it holds and how many records have it."""
    seen: Counter[str] = Counter()
    kinds: dict[str, set[str]] = {}
    for rec in run.records:
        for key, value in payload(rec).items():
            seen[key] += 1
            kinds.setdefault(key, set()).add(type(value).__name__.replace("NoneType", "null"))
    return [[f"`{k}`", " | ".join(sorted(kinds[k])), f"{n:,}"] for k, n in seen.most_common()]


def known_limits(run: RunData, m: RunMetrics) -> list[str]:
    """What a user of the data should know, derived from the run where possible."""
    limits = [
        "Text only: the instructions and captions were written without looking at any image, "
        "so nothing guarantees that an edit is possible on the picture it names.",
        "Model-written text: expect factual slips, odd phrasing and the biases of the model "
        "and of the source captions.",
    ]
    model = m.model.lower()
    if m.backend == "fake":
        limits.append("Made with the `fake` backend: the texts are deterministic test data, "
                      "not model output. Do not train on them.")
    elif any(h in model for h in _SMALL_MODEL_HINTS):
        limits.append(f"`{m.model}` is a very small model: many answers were weak and were "
                      f"filtered out; those that passed may still be awkward.")
    if m.items:
        limits.append(f"{pct(m.items_with_records / m.items)} of the {m.items:,} items read "
                      f"produced accepted records; the others, with reasons and raw model text, "
                      f"are in `rejects.jsonl`.")
    if m.status != "finished":
        limits.append(f"The run's status is `{m.status}`: the set is partial.")
    gen = run.recipe.get("generator") or {}
    if isinstance(gen, Mapping) and gen.get("judge", m.generator == "edit"):
        limits.append("The yes/no self-check judge is the same model that wrote the text, so it "
                      "shares its blind spots.")
    if m.near_duplicate_share is not None and m.near_duplicate_share > NEAR_DUPLICATE_WARNING:
        limits.append(f"{pct(m.near_duplicate_share)} of the texts are near-duplicates of an "
                      f"earlier one.")
    limits.append("Prompts and few-shot examples are in English; other languages were not "
                  "checked.")
    limits.append("The licence of the source data applies to the captions it contributed; "
                  "instructgen sets none.")
    return limits


def render_card(run: RunData, m: RunMetrics) -> str:
    """The card's Markdown text."""
    manifest = run.manifest
    backend = manifest.get("backend") or {}
    source = run.recipe.get("source") or {}
    pretty = f"{m.label} ({m.generator} records)"
    front = ["---", f"pretty_name: {_yaml_str(pretty)}", "language:", "- en",
             "size_categories:", f"- {size_category(m.records)}", "task_categories:",
             "- text-generation", "tags:", "- synthetic", "- instructgen",
             *(["- image-editing"] if m.edit_types else []), "---", ""]
    out = [
        *front, f"# {m.label}", "",
        f"{m.records:,} records written by the `{m.generator}` generator of instructgen "
        f"{manifest.get('instructgen_version', '')} from the `{run.source_name()}` source, "
        f"with the `{m.backend}` backend and model `{m.model}`.".replace("  ", " "), "",
        "## How it was generated", "",
    ]
    rows = [
        ["instructgen version", manifest.get("instructgen_version", "unknown")],
        ["generator", f"`{m.generator}`"],
        ["source", f"`{run.source_name()}`" + (f" ({source['path']})"
                                               if isinstance(source, Mapping)
                                               and source.get("path") else "")],
        ["backend", f"`{m.backend}`"],
        ["model", f"`{m.model}`"],
    ]
    for key in ("sha256", "quantization"):
        if backend.get(key):
            rows.append([f"model {key}", f"`{backend[key]}`"])
    rows += [
        ["seed", str(m.seed)],
        ["recipe hash", f"`{manifest.get('recipe_hash', 'unknown')}`"],
        ["started", manifest.get("started_at") or "unknown"],
        ["finished", manifest.get("finished_at") or "not finished"],
        ["status", m.status],
    ]
    out += table(["", "value"], rows, left=2)
    plugins = manifest.get("plugins") or {}
    out += ["", "### Plugins", ""]
    out += (table(["plugin", "distribution and version"],
                  [[f"`{k}`", v] for k, v in sorted(plugins.items())], left=2)
            if plugins else ["The manifest lists no plugins."])
    settings = backend.get("settings") or {}
    if settings:
        out += ["", "### Backend settings", "", "```json",
                json.dumps(settings, indent=1, ensure_ascii=False, sort_keys=True), "```"]
    out += ["", "### Recipe", "", "```json",
            json.dumps(run.recipe, indent=1, ensure_ascii=False), "```", ""]

    out += ["## Size", ""]
    out += table(["", "count"], [
        ["items read", num(m.items)],
        ["items with accepted records", num(m.items_with_records)],
        ["accepted records", num(m.records)],
        ["rejection lines", num(m.rejections)],
    ])
    out += ["", "## Types", ""]
    if m.edit_types:
        out += table(["edit type", "records", "share"],
                     [[k, f"{n:,}", pct(n / m.records)] for k, n in m.edit_types.items()])
    else:
        out.append(f"One record type: `{m.generator}` output.")
    out += ["", "Per source:", ""]
    out += (table(["source", "records"], [[k, f"{n:,}"] for k, n in m.sources.items()])
            if m.sources else ["No records."])
    out += ["", "## Fields", "", "Keys of each record's `data` (file `records.jsonl`).", ""]
    out += table(["key", "JSON types", "records"], field_rows(run), left=2) if run.records else [
        "No records."]
    if run.records:
        out += ["", "Example record:", "", "```json",
                json.dumps(dict(payload(run.records[0])), indent=1, ensure_ascii=False), "```"]
    out += ["", "## Quality at a glance", "",
            "From `instructgen report` (see `report.md` for all figures):", ""]
    out += table(["measure", "value"], [
        ["text field", f"`{m.text_field}`" if m.text_field else "n/a"],
        ["distinct-2", num(m.distinct_2)],
        ["unique texts", pct(m.unique_share)],
        ["self-BLEU-4 (sample)", num(m.self_bleu)],
        ["valid model answers", pct(m.valid_answer_share)],
        *([["precision of accepted records (human labels) [95% CI]", precision_text(m)],
           ["judge balanced accuracy on labelled records", judge_text(m)]]
          if m.precision else []),
    ])
    if m.precision and m.precision.per_type:
        out += ["", "Precision per type, from the labels in `labels.jsonl`:", ""]
        out += table(["edit type", "precision [95% CI]"],
                     [[t, precision_text(m, t)] for t in m.precision.per_type])
    out += ["", "## Known limits", ""]
    out += [f"- {line}" for line in known_limits(run, m)]
    out.append("")
    return "\n".join(out)

