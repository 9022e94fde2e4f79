"""Every figure of the report, computed from one run directory's files.

:func:`compute_metrics` reads nothing but the :class:`RunData` it is given;
the markdown, the charts and the dataset card only format what it returns.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from . import diversity
from .precision import LabelFigures, label_figures
from .rundata import (
    INSTRUCTION_FIELDS,
    RunData,
    detect_text_field,
    edit_type_of,
    objects_of,
    source_of,
    texts_of,
)

_ARTICLES = ("a ", "an ", "the ")
#: Where the builtin stages sit in the pipeline; other stages follow in order of appearance.
STAGE_ORDER: tuple[str, ...] = ("input", "prefilter", "generate", "c2b", "consistency", "judge",
                                "postprocess", "review")


def order_stages(stages: Sequence[str]) -> list[str]:
    """Distinct stages in pipeline order: known ones first, then by first appearance."""
    seen = list(dict.fromkeys(stages))
    known = [s for s in STAGE_ORDER if s in seen]
    return known + [s for s in seen if s not in STAGE_ORDER]


@attrs.frozen
class ReportOptions:
    """How the report measures a run."""

    #: Payload key holding the text to measure; ``None``: detect it (see ``TEXT_FIELDS``).
    text_field: str | None = None
    #: Texts drawn (with ``seed``) for self-BLEU and the ROUGE-L duplicate check.
    sample_size: int = attrs.field(default=200, validator=attrs.validators.ge(2))
    #: Seed of that sample.
    seed: int = 0
    #: Similarity (0-1) at which ``NearDuplicateIndex`` calls two texts near-duplicates.
    near_duplicate_threshold: float = attrs.field(
        default=0.9, validator=[attrs.validators.gt(0.0), attrs.validators.le(1.0)])
    #: Texts drawn (with ``seed``) for the near-duplicate rate; its cost grows with the
    #: square of this when texts share common words.
    near_duplicate_sample: int = attrs.field(default=2000, validator=attrs.validators.ge(2))
    #: How many verbs and objects to list.
    top_k: int = attrs.field(default=10, validator=attrs.validators.ge(1))


@attrs.frozen
class FunnelStep:
    """Items still alive after a stage, and how many that stage lost for good."""

    stage: str
    lost: int
    remaining: int


@attrs.frozen
class StageRejections:
    """All rejections at one stage (retried attempts included), reasons ranked."""

    stage: str
    total: int
    items: int
    reasons: tuple[tuple[str, int], ...]


@attrs.frozen
class LengthStats:
    """Words per text."""

    count: int
    min: int
    mean: float
    median: float
    p90: int
    max: int
    values: tuple[int, ...] = attrs.field(repr=False)


@attrs.frozen
class RunMetrics:
    """The figures of one run; ``None`` where the files do not allow the figure."""

    label: str
    path: str
    status: str
    generator: str
    backend: str
    model: str
    seed: Any
    text_field: str | None
    items: int
    records: int
    rejections: int
    rejected_items: int
    edit_types: Mapping[str, int]
    sources: Mapping[str, int]
    source_stats: Mapping[str, int]
    funnel: tuple[FunnelStep, ...]
    unexplained_losses: int
    items_with_records: int
    stage_rejections: tuple[StageRejections, ...]
    reasons: Mapping[str, int]
    texts: int
    distinct_1: float | None
    distinct_2: float | None
    unique_share: float | None
    near_duplicate_share: float | None
    near_duplicate_sample: int
    rouge_l_duplicate_share: float | None
    self_bleu: float | None
    sample_size: int
    lengths: LengthStats | None
    verbs_label: str
    top_verbs: tuple[tuple[str, int], ...]
    top_objects: tuple[tuple[str, int], ...]
    requests: int | None
    invalid_answers: int | None
    valid_answer_share: float | None
    items_per_s: float | None
    tokens_per_s: float | None
    backend_share: float | None
    elapsed_s: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cache_hits: int | None
    #: Prompt tokens the backend decoded (``None`` for runs from before this count).
    prompt_tokens_decoded: int | None = None
    #: Per edit type: ``(accepted records, items that ended on that type)``.
    edit_type_acceptance: Mapping[str, tuple[int, int]] = attrs.field(factory=dict)
    #: Precision and judge agreement from human labels (``None``: the run has none).
    precision: LabelFigures | None = None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def length_stats(values: Sequence[int]) -> LengthStats | None:
    if not values:
        return None
    ordered = sorted(values)
    # Nearest-rank 90th percentile: the smallest value with at least 90% at or below it.
    p90 = ordered[max(0, -(-9 * len(ordered) // 10) - 1)]
    return LengthStats(len(ordered), ordered[0], statistics.fmean(ordered),
                       statistics.median(ordered), p90, ordered[-1], tuple(values))


def leading_word(text: str) -> str | None:
    """The first word, lower-cased: the verb of an imperative instruction."""
    toks = diversity.tokens(text)
    return toks[0] if toks else None


def object_key(phrase: str) -> str:
    """An edited object without a leading article, lower-cased."""
    key = " ".join(diversity.tokens(phrase))
    for article in _ARTICLES:
        if key.startswith(article):
            return key[len(article):]
    return key


_TYPE_PREFIX = re.compile(r"^(?:turn \d+ of \d+: )?([a-z][a-z0-9_]*): ")


def rejection_edit_type(rej: Mapping[str, Any]) -> str | None:
    """The edit type a rejection line is about: ``data.edit_type``, else its detail's prefix.

    The ``edit`` generator starts each detail with "<type>: " (after "turn k of n: "
    in chains) and marks a retried attempt "retrying".
    """
    data = rej.get("data")
    if isinstance(data, Mapping) and isinstance(data.get("edit_type"), str):
        etype: str = data["edit_type"]
        return etype
    m = _TYPE_PREFIX.match(str(rej.get("detail") or ""))
    return m.group(1) if m else None


def edit_type_acceptance(run: RunData) -> dict[str, tuple[int, int]]:
    """Per edit type: accepted records and the items that ended on it (accepted or dropped).

    An item ends on a type when its last attempt was of that type: a record, or
    the final rejection line (a retried attempt says "retrying" and is not
    counted). Empty for runs without edit types.
    """
    accepted = Counter(t for t in map(edit_type_of, run.records) if t)
    if not accepted and not any(rejection_edit_type(r) for r in run.rejections):
        return {}
    ended = Counter(accepted)
    for rej in run.rejections:
        etype = rejection_edit_type(rej)
        if etype and "retrying" not in str(rej.get("detail") or ""):
            ended[etype] += 1
    return {t: (accepted.get(t, 0), n) for t, n in sorted(ended.items())}


def funnel(run: RunData) -> tuple[int, tuple[FunnelStep, ...], int, int]:
    """Items read, items alive after each stage, items lost with no rejection line, survivors.

    An item is lost at the stage of its *last* rejection line when it has no
    accepted record; retried attempts that later succeeded cost nothing.
    """
    with_records = {str(r.get("item_id")) for r in run.records}
    last_stage: dict[str, str] = {}
    for rej in run.rejections:
        last_stage[str(rej.get("item_id"))] = str(rej.get("stage") or "unknown")
    lost = Counter(stage for item, stage in last_stage.items() if item not in with_records)
    items = _int(run.counts.get("items"))
    if items is None:  # an old or interrupted manifest: count what the files show
        items = len(with_records | set(last_stage))
    steps = []
    remaining = items
    for stage in order_stages([str(r.get("stage") or "unknown") for r in run.rejections]):
        remaining -= lost.get(stage, 0)
        steps.append(FunnelStep(stage, lost.get(stage, 0), remaining))
    unexplained = remaining - len(with_records)
    return items, tuple(steps), unexplained, len(with_records)


def remaining_after(m: RunMetrics, stages: Sequence[str]) -> dict[str, tuple[int, int]]:
    """``{stage: (items remaining, items lost there)}`` along a shared stage order.

    Lets runs with different stages sit in one table: a stage a run never
    had loses it nothing.
    """
    lost = {s.stage: s.lost for s in m.funnel}
    out, remaining = {}, m.items
    for stage in stages:
        remaining -= lost.get(stage, 0)
        out[stage] = (remaining, lost.get(stage, 0))
    return out


def stage_rejections(run: RunData) -> tuple[StageRejections, ...]:
    by_stage: dict[str, Counter[str]] = {}
    items: dict[str, set[str]] = {}
    for rej in run.rejections:
        stage = str(rej.get("stage") or "unknown")
        by_stage.setdefault(stage, Counter())[str(rej.get("reason") or "unknown")] += 1
        items.setdefault(stage, set()).add(str(rej.get("item_id")))
    return tuple(
        StageRejections(stage, sum(by_stage[stage].values()), len(items[stage]),
                        tuple(sorted(by_stage[stage].items(), key=lambda kv: (-kv[1], kv[0]))))
        for stage in order_stages(list(by_stage))
    )


def _top(counter: Counter[str], k: int) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:k])


def compute_metrics(run: RunData, options: ReportOptions | None = None) -> RunMetrics:
    """Every figure of the report for ``run``."""
    opts = options or ReportOptions()
    counts = run.counts
    backend = run.manifest.get("backend") or {}
    throughput = run.manifest.get("throughput") or {}
    field = detect_text_field(run.records, opts.text_field)
    texts = [t for r in run.records for t in texts_of(r, field)] if field else []
    drawn = diversity.sample(texts, opts.sample_size, opts.seed)
    # In file order, so "a copy of an earlier text" keeps its meaning inside the sample.
    near = diversity.sample_in_order(texts, opts.near_duplicate_sample, opts.seed)
    items, steps, unexplained, survivors = funnel(run)

    verbs: Counter[str] = Counter()
    for text in texts:
        word = leading_word(text)
        if word:
            verbs[word] += 1
    objects = Counter(object_key(o) for r in run.records for o in objects_of(r))
    objects.pop("", None)
    edit_types = Counter(t for t in map(edit_type_of, run.records) if t)
    sources = Counter(source_of(r, run.source_name()) for r in run.records)

    requests = _int(counts.get("requests"))
    invalid = _int(counts.get("invalid_answers"))
    valid_share = None
    if requests and invalid is not None:
        valid_share = max(0.0, (requests - invalid) / requests)
    elapsed = sum(_float(s.get("elapsed_s")) or 0.0 for s in run.manifest.get("sessions") or []
                  if isinstance(s, Mapping)) or None

    return RunMetrics(
        label=run.label,
        path=str(run.path),
        status=str(run.manifest.get("status", "unknown")),
        generator=run.generator_name(),
        backend=str(backend.get("name", "unknown")),
        model=str(backend.get("model", "unknown")),
        seed=run.manifest.get("seed"),
        text_field=field,
        items=items,
        records=len(run.records),
        rejections=len(run.rejections),
        rejected_items=_int(counts.get("rejected_items")) or 0,
        edit_types=dict(sorted(edit_types.items(), key=lambda kv: (-kv[1], kv[0]))),
        sources=dict(sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))),
        source_stats={str(k): v for k, v in (run.manifest.get("source_stats") or {}).items()},
        funnel=steps,
        unexplained_losses=unexplained,
        items_with_records=survivors,
        stage_rejections=stage_rejections(run),
        reasons=dict(sorted(Counter(str(r.get("reason") or "unknown")
                                    for r in run.rejections).items(),
                            key=lambda kv: (-kv[1], kv[0]))),
        texts=len(texts),
        distinct_1=diversity.distinct_n(texts, 1) if texts else None,
        distinct_2=diversity.distinct_n(texts, 2) if texts else None,
        unique_share=diversity.unique_share(texts) if texts else None,
        near_duplicate_share=(diversity.near_duplicate_share(near, opts.near_duplicate_threshold)
                              if near else None),
        near_duplicate_sample=len(near),
        rouge_l_duplicate_share=(diversity.rouge_l_duplicate_share(drawn)
                                 if len(drawn) >= 2 else None),
        self_bleu=diversity.self_bleu(drawn) if len(drawn) >= 2 else None,
        sample_size=len(drawn),
        lengths=length_stats([len(diversity.tokens(t)) for t in texts]),
        verbs_label="verbs" if field in INSTRUCTION_FIELDS else "first words",
        top_verbs=_top(verbs, opts.top_k),
        top_objects=_top(objects, opts.top_k),
        requests=requests,
        invalid_answers=invalid,
        valid_answer_share=valid_share,
        items_per_s=_float(throughput.get("items_per_s")),
        tokens_per_s=_float(throughput.get("tokens_per_s")),
        backend_share=_float(throughput.get("backend_share")),
        elapsed_s=elapsed,
        prompt_tokens=_int(counts.get("prompt_tokens")),
        completion_tokens=_int(counts.get("completion_tokens")),
        cache_hits=_int(counts.get("cache_hits")),
        prompt_tokens_decoded=_int(counts.get("prompt_tokens_decoded")),
        edit_type_acceptance=edit_type_acceptance(run),
        precision=label_figures(run),
    )


def metrics_json(m: RunMetrics) -> dict[str, Any]:
    """The metrics as plain JSON (``report.json``), length values left out."""
    out = attrs.asdict(m, recurse=True)
    if out.get("lengths"):
        out["lengths"].pop("values", None)
    if m.precision is not None and m.precision.judge is not None:
        out["precision"]["judge"]["balanced_accuracy"] = m.precision.judge.balanced_accuracy
    return out


__all__ = ["ReportOptions", "RunMetrics", "compute_metrics", "metrics_json", "order_stages"]
