"""Dataset quality reports and dataset cards, computed from run directories.

::

    from instructgen.report import write_report, write_card
    write_report(["runs/a", "runs/b"], out_dir="runs/compare")
    write_card("runs/a")

The figures come from :mod:`.metrics`; :mod:`.markdown`, :mod:`.charts` and
:mod:`.card` only lay them out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import attrs

from .card import render_card
from .charts import ChartSet, draw_charts
from .markdown import render
from .metrics import ReportOptions, RunMetrics, compute_metrics, metrics_json
from .rundata import TEXT_FIELDS, RunData, load_run

REPORT_FILE = "report.md"
REPORT_JSON = "report.json"
CARD_FILE = "README.md"


@attrs.frozen
class ReportResult:
    """Where the report went and what it holds."""

    markdown: Path
    json: Path
    metrics: tuple[RunMetrics, ...]
    charts: ChartSet


def write_report(
    run_dirs: Sequence[str | Path],
    out_dir: str | Path | None = None,
    options: ReportOptions | None = None,
    *,
    charts: bool = True,
) -> ReportResult:
    """Write ``report.md``, ``report.json`` and PNG charts.

    One run: into its directory unless ``out_dir`` is given. Several runs:
    side by side, into ``out_dir`` (required).
    """
    if not run_dirs:
        raise ValueError("write_report needs at least one run directory")
    opts = options or ReportOptions()
    runs = [load_run(p) for p in run_dirs]
    if out_dir is None:
        if len(runs) > 1:
            from instructgen.errors import UserError

            raise UserError("comparing several run directories needs --out DIR for the report")
        target = runs[0].path
    else:
        target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    metrics = tuple(compute_metrics(r, opts) for r in _unique_labels(runs))
    drawn = draw_charts(metrics, target) if charts else ChartSet({}, "turned off (--no-charts)")
    md = target / REPORT_FILE
    md.write_text(render(metrics, drawn, opts), encoding="utf-8")
    js = target / REPORT_JSON
    js.write_text(json.dumps({"runs": [metrics_json(m) for m in metrics],
                              "charts": dict(drawn.files), "charts_skipped": drawn.skipped,
                              "options": attrs.asdict(opts)},
                             indent=1, ensure_ascii=False, default=str) + "\n",
                  encoding="utf-8")
    return ReportResult(md, js, metrics, drawn)


def write_card(run_dir: str | Path, out: str | Path | None = None,
               options: ReportOptions | None = None) -> Path:
    """Write the dataset card (``README.md`` in the run directory unless ``out`` names a file)."""
    run = load_run(run_dir)
    metrics = compute_metrics(run, options)
    path = Path(out) if out is not None else run.path / CARD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_card(run, metrics), encoding="utf-8")
    return path


def _unique_labels(runs: list[RunData]) -> list[RunData]:
    """Column titles must differ: same-named folders get their parent's name, then a number."""
    out: list[RunData] = []
    for i, run in enumerate(runs):
        label = run.label
        if [r.label for r in runs].count(label) > 1:
            label = f"{run.path.resolve().parent.name}/{label}"
        if label in {r.label for r in out}:
            label = f"{label} ({i + 1})"
        out.append(attrs.evolve(run, name=label))
    return out


__all__ = [
    "CARD_FILE",
    "REPORT_FILE",
    "TEXT_FIELDS",
    "ReportOptions",
    "ReportResult",
    "RunMetrics",
    "compute_metrics",
    "load_run",
    "write_card",
    "write_report",
]
