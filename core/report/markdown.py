"""``report.md``: the metrics of one or more runs as Markdown tables, one column per run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .charts import ChartSet
from .metrics import ReportOptions, RunMetrics, order_stages, remaining_after
from .rundata import TEXT_FIELDS

NA = "n/a"


def pct(value: float | None) -> str:
    return NA if value is None else f"{100 * value:.1f}%"


def num(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return NA
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 1) -> list[str]:
    """A Markdown table; the first ``left`` columns are labels (left-aligned), the rest numbers."""

    def cell(x: Any) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(cell(h) for h in header) + " |",
           "|" + "|".join("---" if i < left else "---:" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out


def by_run(runs: Sequence[RunMetrics], rows: Sequence[tuple[str, Callable[[RunMetrics], Any]]],
           first: str = "") -> list[str]:
    """A table with one row per metric and one column per run."""
    return table([first, *(m.label for m in runs)],
                 [[name, *(get(m) for m in runs)] for name, get in rows])


def precision_text(m: RunMetrics, etype: str | None = None) -> str:
    """Precision of accepted records (of one type), interval and count; n/a when unlabelled."""
    fig = m.precision
    if fig is None:
        return NA
    prop = fig.precision if etype is None else fig.per_type.get(etype)
    return prop.text() if prop is not None else NA


def judge_text(m: RunMetrics) -> str:
    """The judge's balanced accuracy on labelled candidates, or why there is none."""
    judge = m.precision.judge if m.precision is not None else None
    if judge is None:
        return NA
    acc = judge.balanced_accuracy
    if acc is None:
        return f"n/a (needs good and bad labels; {judge.good} good, {judge.bad} bad)"
    return (f"{acc:.3f} ({judge.good_passed} of {judge.good} good passed, "
            f"{judge.bad_failed} of {judge.bad} bad failed)")


def precision_rows(runs: Sequence[RunMetrics]) -> list[str]:
    """The labels section: precision overall and per type, and the judge against the labels."""
    kinds = sorted({t for m in runs if m.precision for t in m.precision.per_type})
    return by_run(runs, [
        ("labels (records and rejection lines)",
         lambda m: num(m.precision.labelled) if m.precision else NA),
        ("accepted records labelled",
         lambda m: num(m.precision.precision.n) if m.precision and m.precision.precision
         else NA),
        ("precision of accepted records [95% CI]", precision_text),
        *((f"precision: {t}", lambda m, t=t: precision_text(m, t)) for t in kinds),
        ("judge balanced accuracy on labelled candidates", judge_text),
    ])


def counted(runs: Sequence[RunMetrics], pick: Callable[[RunMetrics], dict[str, int]],
            first: str) -> list[str]:
    """Category counts with each run's share, categories ranked by their total."""
    totals: dict[str, int] = {}
    for m in runs:
        for k, v in pick(m).items():
            totals[k] = totals.get(k, 0) + v
    keys = [k for k, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]

    def cell(m: RunMetrics, key: str) -> str:
        values = pick(m)
        n, whole = values.get(key, 0), sum(values.values())
        return f"{n:,} ({pct(n / whole)})" if whole else "0"

    return table([first, *(m.label for m in runs)], [[k, *(cell(m, k) for m in runs)]
                                                     for k in keys])


def ranked(runs: Sequence[RunMetrics],
           pick: Callable[[RunMetrics], Sequence[tuple[str, int]]]) -> list[str]:
    """Rank, then each run's entry at that rank as "word (count)"."""
    depth = max(len(pick(m)) for m in runs)
    rows = []
    for i in range(depth):
        cells = []
        for m in runs:
            items = pick(m)
            cells.append(f"{items[i][0]} ({items[i][1]:,})" if i < len(items) else "")
        rows.append([str(i + 1), *cells])
    return table(["#", *(m.label for m in runs)], rows, left=len(runs) + 1)


def funnel_rows(runs: Sequence[RunMetrics]) -> list[str]:
    stages = order_stages([s.stage for m in runs for s in m.funnel])
    cols = [remaining_after(m, stages) for m in runs]

    def after(col: dict[str, tuple[int, int]], stage: str) -> str:
        remaining, lost = col[stage]
        return f"{remaining:,} (-{lost:,})"

    rows: list[list[Any]] = [["items read", *(f"{m.items:,}" for m in runs)]]
    rows += [[f"after {stage}", *(after(c, stage) for c in cols)] for stage in stages]
    if any(m.unexplained_losses for m in runs):
        rows.append(["lost without a rejection line",
                     *(f"{m.unexplained_losses:,}" for m in runs)])
    rows.append(["items with accepted records", *(
        f"{m.items_with_records:,} ({pct(m.items_with_records / m.items) if m.items else NA})"
        for m in runs)])
    rows.append(["accepted records", *(f"{m.records:,}" for m in runs)])
    return table(["stage", *(m.label for m in runs)], rows)


def reasons_rows(runs: Sequence[RunMetrics]) -> list[str]:
    """Every (stage, reason) pair ranked by its count over all runs."""
    totals: dict[tuple[str, str], int] = {}
    per_run: list[dict[tuple[str, str], int]] = []
    for m in runs:
        mine = {(s.stage, reason): n for s in m.stage_rejections for reason, n in s.reasons}
        per_run.append(mine)
        for k, n in mine.items():
            totals[k] = totals.get(k, 0) + n
    keys = sorted(totals, key=lambda k: (-totals[k], k))
    rows = []
    for rank, key in enumerate(keys, 1):
        cells = []
        for m, mine in zip(runs, per_run, strict=True):
            n = mine.get(key, 0)
            cells.append(f"{n:,} ({pct(n / m.rejections)})" if m.rejections else "0")
        rows.append([str(rank), key[0], key[1], *cells])
    return table(["#", "stage", "reason", *(m.label for m in runs)], rows, left=3)


def render(runs: Sequence[RunMetrics], charts: ChartSet, options: ReportOptions) -> str:
    """The whole report as Markdown."""
    title = (f"Dataset report: {runs[0].label}" if len(runs) == 1
             else "Dataset report: " + " vs ".join(m.label for m in runs))
    out = [f"# {title}", "",
           "Every figure below is computed by `instructgen report` from the run directory's "
           "`manifest.json`, `records.jsonl` and `rejects.jsonl`.", ""]

    out += ["## Overview", ""]
    out += by_run(runs, [
        ("run directory", lambda m: f"`{m.path}`"),
        ("status", lambda m: m.status),
        ("generator", lambda m: m.generator),
        ("backend / model", lambda m: f"{m.backend} / {m.model}"),
        ("seed", lambda m: m.seed),
        ("items read", lambda m: num(m.items)),
        ("accepted records", lambda m: num(m.records)),
        ("rejection lines", lambda m: num(m.rejections)),
        ("text field measured", lambda m: f"`{m.text_field}`" if m.text_field else NA),
        ("texts measured", lambda m: num(m.texts)),
    ])
    out.append("")

    if any(m.precision for m in runs):
        out += ["## Precision (human labels)", "",
                "Of the accepted records a person labelled with `instructgen review`, the share "
                "labelled good, with its 95% Wilson score interval. The judge's balanced "
                "accuracy is the mean of the share of good candidates it passed and the share "
                "of bad ones it failed (its `judge_no` rejection lines count as failed).", ""]
        out += precision_rows(runs)
        out.append("")

    out += ["## Counts", "", "### Per edit type", ""]
    if any(m.edit_types for m in runs):
        out += counted(runs, lambda m: dict(m.edit_types), "edit type")
    else:
        out.append("No record has an `edit_type` field.")
    if any(m.edit_type_acceptance for m in runs):
        out += ["", "### Acceptance per edit type", "",
                "Accepted records of the items that ended on each type (their last attempt "
                "was of that type, accepted or dropped).", ""]
        kinds = sorted({k for m in runs for k in m.edit_type_acceptance})

        def share(m: RunMetrics, key: str) -> str:
            got, ended = m.edit_type_acceptance.get(key, (0, 0))
            return f"{got:,} / {ended:,} ({pct(got / ended)})" if ended else NA

        out += table(["edit type", *(m.label for m in runs)],
                     [[k, *(share(m, k) for m in runs)] for k in kinds])
    out += ["", "### Per source", ""]
    out += (counted(runs, lambda m: dict(m.sources), "source") if any(m.sources for m in runs)
            else ["No records."])
    if any(m.source_stats for m in runs):
        out += ["", "Source statistics from the manifest (e.g. rows skipped, by reason):", ""]
        keys = sorted({k for m in runs for k in m.source_stats})
        out += table(["statistic", *(m.label for m in runs)],
                     [[k, *(num(m.source_stats.get(k)) for m in runs)] for k in keys])
    out.append("")

    out += ["## Acceptance funnel", "",
            "Items still alive after each stage; the number lost there, for good, in brackets. "
            "An item is lost at the stage of its last rejection line when it has no accepted "
            "record, so a retried attempt that later succeeded costs nothing.", ""]
    out += funnel_rows(runs)
    out += ["", "### Rejection reasons, ranked", "",
            "All rejection lines, retried attempts included; the share is of that run's "
            "rejection lines.", ""]
    out += reasons_rows(runs) if any(m.rejections for m in runs) else ["No rejections."]
    out.append("")

    out += ["## Diversity", ""]
    out += by_run(runs, [
        ("distinct-1", lambda m: num(m.distinct_1)),
        ("distinct-2", lambda m: num(m.distinct_2)),
        ("unique texts", lambda m: pct(m.unique_share)),
        (f"near-duplicates (similarity ≥ {options.near_duplicate_threshold:g})",
         lambda m: pct(m.near_duplicate_share)),
        ("texts checked for near-duplicates", lambda m: num(m.near_duplicate_sample)),
        ("near-duplicates (ROUGE-L > 0.7, sample)", lambda m: pct(m.rouge_l_duplicate_share)),
        ("self-BLEU-4 (sample; lower is more diverse)", lambda m: num(m.self_bleu)),
        ("sample size (ROUGE-L, self-BLEU)", lambda m: num(m.sample_size)),
    ], first="measure")
    out += ["", f"Samples are drawn with seed {options.seed}; distinct-n and unique texts use "
                f"every text.", ""]

    out += ["## Lengths (words per text)", ""]
    out += by_run(runs, [
        ("texts", lambda m: num(m.lengths.count) if m.lengths else NA),
        ("min", lambda m: num(m.lengths.min) if m.lengths else NA),
        ("mean", lambda m: num(m.lengths.mean, 1) if m.lengths else NA),
        ("median", lambda m: num(float(m.lengths.median), 1) if m.lengths else NA),
        ("90th percentile", lambda m: num(m.lengths.p90) if m.lengths else NA),
        ("max", lambda m: num(m.lengths.max) if m.lengths else NA),
    ], first="words")
    out.append("")

    label = "verbs" if all(m.verbs_label == "verbs" for m in runs) else "verbs (first words)"
    out += [f"## Top {label}", ""]
    out += (ranked(runs, lambda m: m.top_verbs) if any(m.top_verbs for m in runs)
            else ["No texts."])
    out += ["", "## Top edited objects", ""]
    out += (ranked(runs, lambda m: m.top_objects) if any(m.top_objects for m in runs)
            else ["No record has an `edited_object` field."])
    out.append("")

    out += ["## Model answers", ""]
    out += by_run(runs, [
        ("requests", lambda m: num(m.requests)),
        ("cache hits", lambda m: num(m.cache_hits)),
        ("answers that failed parsing or validation", lambda m: num(m.invalid_answers)),
        ("valid answers (valid JSON for schema requests)", lambda m: pct(m.valid_answer_share)),
    ])
    out += ["", "## Throughput", ""]
    out += by_run(runs, [
        ("items/s", lambda m: num(m.items_per_s, 2)),
        ("completion tokens/s", lambda m: num(m.tokens_per_s, 1)),
        ("share of time in the backend", lambda m: pct(m.backend_share)),
        ("elapsed (s, all sessions)", lambda m: num(m.elapsed_s, 2)),
        ("prompt tokens", lambda m: num(m.prompt_tokens)),
        ("prompt tokens decoded (the rest reused cached prefixes)",
         lambda m: num(m.prompt_tokens_decoded)),
        ("completion tokens", lambda m: num(m.completion_tokens)),
    ])
    out.append("")

    out += ["## Charts", ""]
    if charts.skipped:
        out.append(f"Charts were skipped: {charts.skipped}.")
    for chart_title, name in charts.files.items():
        out += [f"![{chart_title}]({name})", ""]
    out += ["", "## How the figures are computed", "",
            f"- The text field is chosen in this order: {', '.join(TEXT_FIELDS)} "
            "(`--text-field` names another); each turn of a chain and each phrase of a list "
            "counts as one text.",
            "- distinct-n: distinct word n-grams over all n-grams (lower-cased words).",
            "- unique texts: texts distinct after ignoring case, punctuation and spacing.",
            "- near-duplicates: share of texts whose similarity to an earlier text reaches "
            "the threshold (`NearDuplicateIndex`), over all texts or a sample of them kept "
            "in file order.",
            "- ROUGE-L: share of sampled texts with ROUGE-L F1 above 0.7 against another "
            "sampled text (Self-Instruct's cut-off).",
            "- self-BLEU-4: mean sentence BLEU of each sampled text against the others, "
            "add-one smoothing above unigrams.",
            "- verbs: the first word of each instruction; objects: `edited_object`.",
            "- valid answers: (requests - answers that failed parsing or validation) / "
            "requests, from the manifest counts.",
            "- throughput: copied from the manifest, which the runner measured.", ""]
    return "\n".join(out)
