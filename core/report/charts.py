"""PNG charts of the report, drawn with matplotlib when it is installed.

matplotlib is an optional extra (``pip install 'instructgen[report]'``).
Without it :func:`draw_charts` draws nothing and says why, and the report
states that its charts were skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from .metrics import RunMetrics, order_stages, remaining_after

#: At most this many categories per bar chart; the rest are summed as "other".
MAX_BARS = 15


@attrs.frozen
class ChartSet:
    """What :func:`draw_charts` made: ``{title: file name}``, or why it made none."""

    files: Mapping[str, str]
    skipped: str | None = None


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def _grouped_bars(plt: Any, path: Path, title: str, xlabel: str,
                  series: Sequence[tuple[str, Mapping[str, float]]]) -> None:
    """Horizontal bars, one colour per run, categories ranked by their total."""
    totals: dict[str, float] = {}
    for _, values in series:
        for key, value in values.items():
            totals[key] = totals.get(key, 0) + value
    keys = [k for k, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]
    if len(keys) > MAX_BARS:
        keys = [*keys[: MAX_BARS - 1], "other"]
        series = [(label, {**{k: v.get(k, 0) for k in keys[:-1]},
                           "other": sum(x for k, x in v.items() if k not in keys[:-1])})
                  for label, v in series]
    height = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(8, 0.45 * max(len(keys), 2) + 1.5))
    for s, (label, values) in enumerate(series):
        ys = [i + s * height for i in range(len(keys))]
        ax.barh(ys, [values.get(k, 0) for k in keys], height=height, label=label)
    ax.set_yticks([i + height * (len(series) - 1) / 2 for i in range(len(keys))])
    ax.set_yticklabels(keys)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _lengths(plt: Any, path: Path, runs: Sequence[RunMetrics]) -> None:
    fig, ax = plt.subplots(figsize=(8, 4))
    top = max(m.lengths.max for m in runs if m.lengths)
    bins = range(0, top + 2)
    for m in runs:
        if m.lengths:
            ax.hist(m.lengths.values, bins=bins, histtype="step", linewidth=1.5, label=m.label)
    ax.set_xlabel("words per text")
    ax.set_ylabel("texts")
    ax.set_title("Length distribution")
    if len(runs) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _funnel(plt: Any, path: Path, runs: Sequence[RunMetrics]) -> None:
    stages = order_stages([s.stage for m in runs for s in m.funnel])
    series = []
    for m in runs:
        steps = {"items read": m.items}
        steps.update({f"after {stage}": left for stage, (left, _) in
                      remaining_after(m, stages).items()})
        steps["with records"] = m.items_with_records
        series.append((m.label, steps))
    # Keep pipeline order rather than ranking by size.
    order = list(series[0][1])
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(order) + 1.5))
    height = 0.8 / len(series)
    for s, (label, steps) in enumerate(series):
        ax.barh([i + s * height for i in range(len(order))],
                [steps.get(k, 0) for k in order], height=height, label=label)
    ax.set_yticks([i + height * (len(series) - 1) / 2 for i in range(len(order))])
    ax.set_yticklabels(order)
    ax.invert_yaxis()
    ax.set_xlabel("items")
    ax.set_title("Acceptance funnel")
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def draw_charts(runs: Sequence[RunMetrics], out_dir: Path) -> ChartSet:
    """Draw every chart the data allows into ``out_dir``."""
    try:
        plt = _pyplot()
    except ImportError:
        return ChartSet({}, "matplotlib is not installed (pip install 'instructgen[report]')")
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}

    def bars(name: str, title: str, xlabel: str,
             pick: Callable[[RunMetrics], Mapping[str, float]]) -> None:
        series = [(m.label, pick(m)) for m in runs]
        if any(values for _, values in series):
            _grouped_bars(plt, out_dir / name, title, xlabel, series)
            files[title] = name

    if any(m.items for m in runs):
        _funnel(plt, out_dir / "funnel.png", runs)
        files["Acceptance funnel"] = "funnel.png"
    bars("rejection_reasons.png", "Rejection reasons", "rejections", lambda m: m.reasons)
    bars("edit_types.png", "Records per edit type", "records", lambda m: m.edit_types)
    bars("sources.png", "Records per source", "records", lambda m: m.sources)
    if any(m.lengths for m in runs):
        _lengths(plt, out_dir / "lengths.png", runs)
        files["Length distribution"] = "lengths.png"
    bars("top_verbs.png", "Top verbs", "texts", lambda m: dict(m.top_verbs))
    bars("top_objects.png", "Top edited objects", "records", lambda m: dict(m.top_objects))
    return ChartSet(files)
