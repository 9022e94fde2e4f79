"""Committing outcomes: what happens to one item's outcome after the engine hands it back.

Its payloads become records, go through the post-processors and the review
hook, are counted, and their lines are queued in the journal (records, rejects,
the sink's file) under the item's mark. Items arrive in source order, so the
lines do too. The same committer serves every engine, which is why records,
rejects and resume do not depend on where generation ran.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from instructgen.logs import Log

from .canonical import to_json
from .counters import RunSummary
from .early import EarlyWarning
from .errors import OutputWriteError, Reject, RunAborted
from .manager import PluginRegistry
from .plan import Plan
from .plugin import PostProcessor, Sink
from .records import OutputRecord, Provenance, Rejection
from .review import RecordReview
from .rundir import RECORDS, REJECTS, Journal, iter_records
from .scheduler import ItemOutcome

#: Reasons that count as failures for the abort rule (content rejections do not).
FAILURE_REASONS = frozenset({"invalid_output", "plugin_error"})


class Committer:
    """Post-processes, reviews, counts and writes each item's records, in source order.

    ``journal`` is ``None`` when the run writes nothing (``preview``); records are
    still post-processed, reviewed and counted. ``committed`` is the number of
    items of the run directory that are done, this session's and earlier ones.
    """

    def __init__(self, plan: Plan, registry: PluginRegistry, post: list[PostProcessor],
                 sink: Sink | None, summary: RunSummary, journal: Journal | None, *,
                 provenance: Mapping[str, Any], log: Log) -> None:
        self.plan, self.registry, self.post, self.sink = plan, registry, post, sink
        self.summary, self.journal, self.log = summary, journal, log
        self.provenance = dict(provenance)
        self.committed = journal.committed_items if journal is not None else 0
        recipe = plan.recipe
        self._failures: collections.deque[bool] = collections.deque(
            maxlen=recipe.failure_window)
        self._max_failure_share = recipe.max_failure_share
        self._early = EarlyWarning(log)  # warns once if the first items all fail alike

    def restore(self) -> None:
        """Resume: the carried counts from the checkpoint, the post-processors' state
        from the records already written."""
        journal, summary = self.journal, self.summary
        if journal is None or not journal.committed_items:
            return
        summary.restore(journal.extra.get("counts", {}))
        summary.rejection_reasons = dict(journal.extra.get("reasons", {}))
        if self.post:
            path = journal.run_dir / RECORDS
            for pp in self.post:
                pp.restore(iter_records(path))

    def commit(self, outcome: ItemOutcome) -> list[OutputRecord]:
        """Commit one item (its lines are marked whole); returns its accepted records."""
        records, failed = self._commit(outcome)
        self.committed += 1
        if self.journal is not None:
            self.journal.mark(self.committed, self.checkpoint())
        self._failures.append(failed)
        return records

    def checkpoint(self) -> dict[str, Any]:
        """The counts saved with the resume state, as of the last committed item."""
        return {"counts": self.summary.carried(),
                "reasons": dict(self.summary.rejection_reasons)}

    def finalize(self, run_dir: Path) -> OutputWriteError | None:
        """The sink's last step over the finished run; a full disk is returned, not raised."""
        if self.sink is None:
            return None
        try:
            self.sink.finalize(run_dir, lambda: iter_records(run_dir))
        except OSError as exc:  # a full disk while the sink converts the run
            return OutputWriteError(exc.filename or run_dir, exc, committed=self.committed)
        return None

    def publish(self, run_dir: Path) -> str | None:
        """The sink's publishing step, once the manifest is final (see :meth:`Sink.publish`)."""
        return self.sink.publish(run_dir) if self.sink is not None else None

    # -- one item ---------------------------------------------------------------------------

    def _commit(self, outcome: ItemOutcome) -> tuple[list[OutputRecord], bool]:
        """Post-process, review and write one item's records; returns (accepted, failed)."""
        summary, item = self.summary, outcome.item
        gen_name = self.plan.generator.spec.name
        summary.items += 1
        summary.invalid_answers += outcome.invalid_answers
        rejections = list(outcome.rejections)
        accepted: list[OutputRecord] = []
        failed = False
        if outcome.error is not None:
            failed = outcome.error.reason in FAILURE_REASONS
            rejections.append(outcome.error)
            summary.rejected_items += 1
        else:
            prov = Provenance(item_seed=outcome.seed, **self.provenance)
            payloads = outcome.payloads or []
            for k, payload in enumerate(payloads):
                rid = item.id if len(payloads) == 1 else f"{item.id}#{k}"
                record = OutputRecord(id=rid, item_id=item.id, generator=gen_name,
                                      data=dict(payload), provenance=prov, extra=dict(item.extra))
                kept, rejection, broke = self._finish_record(record)
                failed = failed or broke
                if rejection is not None:
                    rejections.append(rejection)
                if kept is not None:
                    accepted.append(kept)
        for rej in rejections:
            summary.rejected += 1
            summary.rejection_reasons[rej.reason] = summary.rejection_reasons.get(rej.reason, 0) + 1
            self.log.debug("item_rejected", item=item.id, stage=rej.stage, plugin=rej.plugin,
                           reason=rej.reason, detail=rej.detail[:200])
        summary.accepted += len(accepted)
        self._early.observe(len(accepted), rejections)
        self._write(rejections, accepted)
        return accepted, failed

    def _write(self, rejections: list[Rejection], accepted: list[OutputRecord]) -> None:
        journal, sink = self.journal, self.sink
        if journal is None:
            return
        for rej in rejections:
            journal.write(REJECTS, to_json(rej))
        for record in accepted:
            journal.write(RECORDS, to_json(record))
            if sink is not None and sink.filename:
                line = sink.encode(record)
                if line is not None:  # the sink leaves this record out of its file
                    journal.write(sink.filename, line)

    def _finish_record(self, record: OutputRecord,
                       ) -> tuple[OutputRecord | None, Rejection | None, bool]:
        """Run post-processors, then the review hook. Returns (record, rejection, crashed)."""
        for pp, stage in zip(self.post, self.plan.postprocess, strict=True):
            try:
                record = pp.process(record)
            except Reject as rej:
                return None, Rejection(item_id=record.item_id, stage="postprocess",
                                       plugin=stage.spec.name, reason=rej.reason,
                                       detail=rej.detail, raw=rej.raw,
                                       data=dict(record.data)), False
            except Exception as exc:  # a post-processor bug rejects this record only
                return None, Rejection(item_id=record.item_id, stage="postprocess",
                                       plugin=stage.spec.name, reason="plugin_error",
                                       detail=f"{type(exc).__name__}: {exc}",
                                       data=dict(record.data)), True
        if self.registry.reviews_records:
            review = RecordReview(record)
            self.registry.review_record(review)
            if review.vetoed:
                return None, Rejection(item_id=record.item_id, stage="review",
                                       plugin=review.vetoed_by or "",
                                       reason=review.veto_reason or "vetoed",
                                       data=dict(record.data)), False
            record = review.record
        return record, None, False

    def check_failures(self) -> None:
        """Raise :class:`RunAborted` when too many of the recent items failed."""
        failures, max_share = self._failures, self._max_failure_share
        seen = len(failures)
        if seen < min(20, failures.maxlen or 20):
            return
        share = sum(failures) / seen
        if share > max_share:
            raise RunAborted(
                f"stopped: {sum(failures)} of the last {seen} items failed "
                f"({share:.0%} > max_failure_share {max_share:.0%}); see "
                f"{REJECTS} for reasons (invalid model output or plugin errors)")
