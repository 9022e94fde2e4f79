"""Precision from human labels: how many accepted records are good, with a Wilson interval.

The acceptance rate says how many records passed the checks, not how many are
right; labels on a sample of records do. This module turns the run's labels
(:mod:`.labels`) into precision of accepted records, per type and overall, the
judge's balanced accuracy against the labels, and the score-judge threshold
the labels favour.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .labels import Label, rejection_ids
from .rundata import RunData, edit_type_of, payload

#: Two-sided 95% normal quantile.
Z95 = 1.959963984540054
#: The judge's reject detail spells its score this way (plugins/edits/generator.py).
_P_YES = re.compile(r"P\(yes\) = ([0-9]*\.?[0-9]+)")


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``k`` successes in ``n`` trials.

    Unlike the normal approximation it stays inside [0, 1] and is not zero-width
    at 0 or n successes, which matters for the small label counts people make.
    """
    if n <= 0:
        raise ValueError("wilson_interval needs at least one trial")
    if not 0 <= k <= n:
        raise ValueError(f"wilson_interval: {k} successes out of {n} trials")
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # At 0 or n successes the bound is exactly 0 or 1; rounding would leave 1e-17.
    return (0.0 if k == 0 else max(0.0, centre - half),
            1.0 if k == n else min(1.0, centre + half))


@attrs.frozen
class Proportion:
    """``k`` of ``n``, with its 95% Wilson interval."""

    k: int
    n: int
    low: float
    high: float

    @classmethod
    def of(cls, k: int, n: int) -> Proportion:
        low, high = wilson_interval(k, n)
        return cls(k, n, low, high)

    @property
    def value(self) -> float:
        return self.k / self.n

    def text(self) -> str:
        """``83.3% [55.2%, 95.3%] (10 of 12)``."""
        return (f"{100 * self.value:.1f}% [{100 * self.low:.1f}%, {100 * self.high:.1f}%] "
                f"({self.k:,} of {self.n:,})")


@attrs.frozen
class JudgeAgreement:
    """The judge's verdicts against the labels, on records the judge saw and a person labelled.

    Balanced accuracy is the mean of the share of good records the judge passed
    and the share of bad ones it failed, so a judge that says yes to everything
    scores 0.5 however good the data is.
    """

    labelled: int
    good: int
    bad: int
    good_passed: int
    bad_failed: int

    @property
    def balanced_accuracy(self) -> float | None:
        if not self.good or not self.bad:
            return None
        return (self.good_passed / self.good + self.bad_failed / self.bad) / 2


@attrs.frozen
class LabelFigures:
    """What a run's labels say about it."""

    #: Labels that name a record or rejection line of this run.
    labelled: int
    #: Labels whose id the run does not have (kept, not counted).
    unknown: int
    #: Precision of accepted records; ``None`` when no accepted record is labelled.
    precision: Proportion | None
    per_type: Mapping[str, Proportion]
    judge: JudgeAgreement | None


@attrs.frozen
class Judged:
    """One judged candidate: the judge's verdict, its P(yes) when scored, and a label."""

    record_id: str
    verdict: str
    p_yes: float | None
    accepted: bool
    label: str | None


def _record_verdict(data: Mapping[str, Any]) -> tuple[str | None, float | None]:
    """A record's judge verdict and P(yes); a chain passes when every turn passed."""
    turns = data.get("turns")
    parts = [t for t in turns if isinstance(t, Mapping)] if isinstance(turns, list) else [data]
    verdicts = [p.get("judge") for p in parts]
    if not verdicts or any(v is None for v in verdicts):
        return None, None
    scores = [p.get("judge_p_yes") for p in parts]
    numbers = [s for s in scores if isinstance(s, (int, float))]
    p_yes = min(float(s) for s in numbers) if len(numbers) == len(scores) else None
    return ("yes" if all(v == "yes" for v in verdicts) else "no"), p_yes


def judged(run: RunData, labels: Mapping[str, Label]) -> list[Judged]:
    """Every candidate the judge decided on: accepted records it passed, ``judge_no`` lines."""
    out = []
    for rec in run.records:
        verdict, p_yes = _record_verdict(payload(rec))
        if verdict is not None:
            rid = str(rec.get("id"))
            out.append(Judged(rid, verdict, p_yes, True,
                              labels[rid].label if rid in labels else None))
    for rid, rej in zip(rejection_ids(run.rejections), run.rejections, strict=True):
        if rej.get("reason") == "judge_no":
            m = _P_YES.search(str(rej.get("detail") or ""))
            out.append(Judged(rid, "no", float(m.group(1)) if m else None, False,
                              labels[rid].label if rid in labels else None))
    return out


def agreement(cases: Sequence[Judged]) -> JudgeAgreement | None:
    """The judge's agreement with the labelled ones among ``cases`` (``None``: none labelled)."""
    good = [c for c in cases if c.label == "good"]
    bad = [c for c in cases if c.label == "bad"]
    if not good and not bad:
        return None
    return JudgeAgreement(len(good) + len(bad), len(good), len(bad),
                          sum(c.verdict == "yes" for c in good),
                          sum(c.verdict != "yes" for c in bad))


def label_figures(run: RunData) -> LabelFigures | None:
    """Precision and judge agreement from the run's labels; ``None`` when it has none."""
    labels = run.labels
    if not labels:
        return None
    known = {str(r.get("id")) for r in run.records} | set(rejection_ids(run.rejections))
    good: dict[str, list[bool]] = {}
    overall: list[bool] = []
    for rec in run.records:
        lab = labels.get(str(rec.get("id")))
        if lab is None:
            continue
        overall.append(lab.label == "good")
        etype = edit_type_of(rec)
        if etype:
            good.setdefault(etype, []).append(lab.label == "good")
    return LabelFigures(
        labelled=sum(rid in known for rid in labels),
        unknown=sum(rid not in known for rid in labels),
        precision=Proportion.of(sum(overall), len(overall)) if overall else None,
        per_type={t: Proportion.of(sum(v), len(v)) for t, v in sorted(good.items())},
        judge=agreement(judged(run, labels)),
    )


@attrs.frozen
class ThresholdChoice:
    """The P(yes) threshold the labels favour, and what it keeps."""

    threshold: float
    agreement: JudgeAgreement
    #: Labelled candidates at or over the threshold that are good, of all labelled kept.
    kept_precision: Proportion | None
    #: Scored candidates of the run at or over the threshold: accepted records that stay,
    #: and judge "no" lines that would have passed the judge.
    accepted_kept: int
    accepted_scored: int
    rejected_passing: int
    rejected_scored: int
    #: The run's own threshold and its agreement on the same labels, when known.
    current: float | None
    current_agreement: JudgeAgreement | None


def _at(cases: Sequence[Judged], threshold: float) -> list[Judged]:
    """The cases as a score judge with this threshold would have decided them."""
    return [attrs.evolve(c, verdict="yes" if c.p_yes >= threshold else "no") for c in cases
            if c.p_yes is not None]


def _passes(case: Judged, threshold: float) -> bool:
    """A scored case the judge keeps at ``threshold``."""
    return case.p_yes is not None and case.p_yes >= threshold


def suggest_threshold(run: RunData, labels: Mapping[str, Label]) -> ThresholdChoice | None:
    """The threshold on P(yes) with the best balanced accuracy on the labelled candidates.

    Candidates are each labelled score (keep when P(yes) is at least it); ties
    go to the lowest, which keeps the most records. ``None`` unless scored,
    labelled candidates include both a good and a bad one.
    """
    cases = [c for c in judged(run, labels) if c.p_yes is not None]
    labelled = [c for c in cases if c.label is not None]
    if not any(c.label == "good" for c in labelled) or not any(c.label == "bad"
                                                                 for c in labelled):
        return None
    best: tuple[float, float, JudgeAgreement] | None = None
    for t in sorted({c.p_yes for c in labelled if c.p_yes is not None}):
        agree = agreement(_at(labelled, t))
        assert agree is not None and agree.balanced_accuracy is not None
        if best is None or agree.balanced_accuracy > best[0]:
            best = (agree.balanced_accuracy, t, agree)
    assert best is not None
    _, threshold, agree = best
    kept = [c for c in _at(labelled, threshold) if c.verdict == "yes"]
    gen = run.recipe.get("generator") or {}
    current = gen.get("judge_threshold") if isinstance(gen, Mapping) else None
    current = float(current) if isinstance(current, (int, float)) else None
    return ThresholdChoice(
        threshold=threshold,
        agreement=agree,
        kept_precision=(Proportion.of(sum(c.label == "good" for c in kept), len(kept))
                        if kept else None),
        accepted_kept=sum(c.accepted and _passes(c, threshold) for c in cases),
        accepted_scored=sum(c.accepted for c in cases),
        rejected_passing=sum(not c.accepted and _passes(c, threshold) for c in cases),
        rejected_scored=sum(not c.accepted for c in cases),
        current=current,
        current_agreement=agreement(_at(labelled, current)) if current is not None else None,
    )


__all__ = [
    "JudgeAgreement",
    "LabelFigures",
    "Proportion",
    "ThresholdChoice",
    "label_figures",
    "suggest_threshold",
    "wilson_interval",
]
