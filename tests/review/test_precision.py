"""Precision with a Wilson interval, the judge against the labels, the suggested threshold."""

from __future__ import annotations

import json
import math

import pytest

from instructgen.cli import main
from instructgen.report import compute_metrics, load_run, write_card, write_report
from instructgen.report.labels import LABELS_FILE, Label, rejection_ids
from instructgen.report.precision import (
    Proportion,
    label_figures,
    suggest_threshold,
    wilson_interval,
)


def _score_interval_by_bisection(k: int, n: int, z: float = 1.959963984540054):
    """The same interval found another way: where |p_hat - p| = z * sqrt(p(1-p)/n)."""
    p_hat = k / n

    def outside(p: float) -> float:
        return (p_hat - p) ** 2 - z * z * p * (1 - p) / n

    def root(lo: float, hi: float) -> float:
        for _ in range(200):
            mid = (lo + hi) / 2
            if (outside(lo) > 0) == (outside(mid) > 0):
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    low = 0.0 if k == 0 else root(0.0, p_hat)
    high = 1.0 if k == n else root(p_hat, 1.0)
    return low, high


@pytest.mark.parametrize("k, n", [(0, 1), (1, 1), (3, 4), (8, 10), (0, 25), (81, 263),
                                  (499, 1000)])
def test_wilson_interval_solves_the_score_equation(k, n):
    low, high = wilson_interval(k, n)
    want_low, want_high = _score_interval_by_bisection(k, n)
    assert math.isclose(low, want_low, abs_tol=1e-9)
    assert math.isclose(high, want_high, abs_tol=1e-9)
    assert 0.0 <= low <= k / n <= high <= 1.0
    mirrored = wilson_interval(n - k, n)
    assert math.isclose(mirrored[0], 1 - high) and math.isclose(mirrored[1], 1 - low)


def test_wilson_interval_refuses_impossible_counts():
    for k, n in ((0, 0), (3, 2), (-1, 4)):
        with pytest.raises(ValueError):
            wilson_interval(k, n)


def test_proportion_text_gives_share_interval_and_count():
    prop = Proportion.of(2, 3)
    low, high = wilson_interval(2, 3)
    assert prop.text() == f"66.7% [{100 * low:.1f}%, {100 * high:.1f}%] (2 of 3)"


def _label(run_dir, verdicts: dict[str, str]) -> None:
    """Store ``{record id: good|bad}`` as the run's labels."""
    recipe_hash = json.loads((run_dir / "manifest.json").read_text())["recipe_hash"]
    (run_dir / LABELS_FILE).write_text("".join(
        Label(rid, recipe_hash, v, "not_fluent" if v == "bad" else None).to_json() + "\n"
        for rid, v in verdicts.items()))


def _expected(run, verdicts):
    """Precision and judge agreement counted directly from the records and the labels."""
    good = sum(verdicts.get(r["id"]) == "good" for r in run.records)
    labelled = sum(r["id"] in verdicts for r in run.records)
    return good, labelled


def test_figures_count_labelled_accepted_records_per_type(judged_run):
    res = judged_run()
    run_dir = res.run_dir
    records = [r for r in load_run(run_dir).records]
    rej = rejection_ids(load_run(run_dir).rejections)
    verdicts = {records[0]["id"]: "good", records[1]["id"]: "bad", records[2]["id"]: "good",
                rej[0]: "bad", "not-a-record": "good"}
    _label(run_dir, verdicts)
    run = load_run(run_dir)
    fig = label_figures(run)
    good, labelled = _expected(run, verdicts)
    assert (fig.precision.k, fig.precision.n) == (good, labelled) == (2, 3)
    assert fig.labelled == 4 and fig.unknown == 1
    for etype, prop in fig.per_type.items():
        mine = [r for r in records[:3] if r["data"]["edit_type"] == etype]
        assert (prop.k, prop.n) == (sum(verdicts[r["id"]] == "good" for r in mine), len(mine))
    # The judge passed all three records and failed the judge_no line labelled bad.
    assert run.rejections[0]["reason"] == "judge_no"
    judge = fig.judge
    assert (judge.good, judge.bad, judge.good_passed, judge.bad_failed) == (2, 2, 2, 1)
    assert judge.balanced_accuracy == pytest.approx((2 / 2 + 1 / 2) / 2)


def test_no_labels_no_figures_and_no_section(judged_run, tmp_path):
    run_dir = judged_run().run_dir
    assert compute_metrics(load_run(run_dir)).precision is None
    report = write_report([run_dir], tmp_path / "r", charts=False)
    assert "Precision (human labels)" not in report.markdown.read_text()


def test_report_json_and_card_show_the_precision(judged_run):
    run_dir = judged_run().run_dir
    records = load_run(run_dir).records
    verdicts = {r["id"]: ("good" if i % 3 else "bad") for i, r in enumerate(records)}
    _label(run_dir, verdicts)
    good, labelled = _expected(load_run(run_dir), verdicts)
    text = Proportion.of(good, labelled).text()
    report = write_report([run_dir], charts=False)
    md = report.markdown.read_text()
    assert f"| precision of accepted records [95% CI] | {text} |" in md
    data = json.loads(report.json.read_text())["runs"][0]["precision"]
    assert (data["precision"]["k"], data["precision"]["n"]) == (good, labelled)
    assert data["judge"]["balanced_accuracy"] == 0.5  # the judge passed every labelled record
    card = write_card(run_dir).read_text()
    assert f"| precision of accepted records (human labels) [95% CI] | {text} |" in card
    assert "Precision per type" in card


def _p_yes(run):
    """P(yes) of every judged candidate, from the records and the judge_no details."""
    out = {r["id"]: r["data"]["judge_p_yes"] for r in run.records}
    for rid, rej in zip(rejection_ids(run.rejections), run.rejections, strict=True):
        if rej["reason"] == "judge_no":
            out[rid] = float(rej["detail"].split("P(yes) = ")[1].split()[0])
    return out


def test_suggested_threshold_separates_the_labels(judged_run, capsys):
    run_dir = judged_run().run_dir
    scores = _p_yes(load_run(run_dir))
    # A person who agrees with the judge only from 0.7 up: the best threshold is 0.7.
    verdicts = {rid: ("good" if p >= 0.7 else "bad") for rid, p in scores.items()}
    _label(run_dir, verdicts)
    run = load_run(run_dir)
    choice = suggest_threshold(run, run.labels)
    assert choice.threshold == 0.7 and choice.agreement.balanced_accuracy == 1.0
    assert choice.current == 0.5
    accepted = [r["data"]["judge_p_yes"] for r in run.records]
    assert choice.accepted_kept == sum(p >= 0.7 for p in accepted)
    assert choice.accepted_scored == len(accepted)
    assert choice.rejected_passing == 0 and choice.rejected_scored == len(scores) - len(accepted)
    assert (choice.kept_precision.k, choice.kept_precision.n) == (
        sum(v == "good" for v in verdicts.values()),) * 2
    assert main(["review", "--suggest-threshold", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "suggested judge_threshold = 0.7: balanced accuracy 1.000" in out
    assert f"kept {choice.accepted_kept} of {len(accepted)} accepted" in out


def test_suggesting_needs_good_and_bad_labels(judged_run, capsys):
    run_dir = judged_run().run_dir
    assert main(["review", "--suggest-threshold", str(run_dir)]) == 2
    assert "no labels stored" in capsys.readouterr().err
    _label(run_dir, {r["id"]: "good" for r in load_run(run_dir).records})
    assert main(["review", "--suggest-threshold", str(run_dir)]) == 2
    assert "at least one good and one bad" in capsys.readouterr().err
