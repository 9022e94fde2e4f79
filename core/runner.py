"""The runner: streams items through generator, post-processors and sink.

Generators are coroutines that ``await ctx.ask(...)``. The runner steps each
item until it parks on a model request, gathers the parked requests of many
items into backend calls of up to ``batch_size``, and resumes the items with
their answers. Finished items are committed strictly in source order, which
makes the output independent of batch size and lets a crashed run resume
exactly where its files end.
"""

from __future__ import annotations

import collections
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from .cache import CallCache, default_cache_path
from .context import RunInfo
from .early import EarlyWarning
from .engines import LocalEngine
from .errors import OutputWriteError, Reject, RunAborted, Terminated, UserError
from .manager import PluginRegistry
from .plugin import Generator, PostProcessor, Sink, Source
from .recipe import Plan, hashable_view
from .records import (
    OutputRecord,
    Provenance,
    Rejection,
    SourceItem,
    converter,
    to_json,
)
from .review import RecordReview
from .rundir import (
    FRESH_FLAG,
    RECORDS,
    REJECTS,
    Journal,
    Manifest,
    RunDirLock,
    clear_run_dir,
    iter_records,
    now_iso,
    read_manifest,
    read_state,
    recipe_diff,
    write_json_atomic,
)
from .scheduler import ItemOutcome

#: Reasons that count as failures for the abort rule (content rejections do not).
FAILURE_REASONS = frozenset({"invalid_output", "plugin_error"})
_COMMIT_EVERY_S = 0.25


@attrs.define
class RunSummary:
    """Counts of a run, returned by :func:`instructgen.run`."""

    run_dir: Path | None
    status: str = "running"
    items: int = 0
    accepted: int = 0
    rejected: int = 0
    rejected_items: int = 0
    backend_calls: int = 0
    requests: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    #: Of ``prompt_tokens``, those the backend decoded (the rest reused cached prefixes).
    prompt_tokens_decoded: int = 0
    completion_tokens: int = 0
    invalid_answers: int = 0
    elapsed_s: float = 0.0
    backend_s: float = 0.0
    message: str = ""
    rejection_reasons: dict[str, int] = attrs.field(factory=dict)

    @property
    def items_per_s(self) -> float:
        return self.items / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.elapsed_s if self.elapsed_s else 0.0


class Runner:
    """Runs one resolved recipe. Use :meth:`records` to stream, :meth:`run` to finish."""

    def __init__(
        self,
        plan: Plan,
        registry: PluginRegistry,
        *,
        write: bool = True,
        fresh: bool = False,
        backend: Any = None,
        log: Any = None,
        progress: bool | None = None,
    ) -> None:
        from .logs import quiet_logger

        self.plan = plan
        self.recipe = plan.recipe
        self.registry = registry
        self.write = write
        self.fresh = fresh
        self.log = log or quiet_logger()
        self.progress = sys.stderr.isatty() if progress is None else progress
        self._backend_override = backend
        self.summary = RunSummary(run_dir=Path(self.recipe.output_dir) if write else None)
        self.engine: Any = None
        self._early = EarlyWarning(self.log)  # warns once if the first items all fail alike
        self._lock: RunDirLock | None = None
        self._signals: SignalGate | None = None

    # -- public ---------------------------------------------------------------------

    def run(self) -> RunSummary:
        """Run to the end (or to the recipe's ``limit``) and return the counts.

        SIGTERM and SIGHUP stop the run like Ctrl-C (finished work saved, status
        ``interrupted``) by raising :class:`Terminated`, where nobody else handles them.
        """
        with terminate_as_interrupt() as self._signals:
            for _ in self.records():
                pass
        return self.summary

    def records(self) -> Iterator[OutputRecord]:
        """Yield accepted records as they are committed, in source order."""
        plan, recipe = self.plan, self.recipe
        # Build everything that can fail on user input before touching the disk.
        source: Source = plan.source.build()
        generator: Generator = plan.generator.build()
        post: list[PostProcessor] = [s.build() for s in plan.postprocess]
        sink: Sink | None = plan.sink.build() if plan.sink else None
        run_dir = Path(recipe.output_dir)
        recipe_hash = plan.hash
        run_info = RunInfo(run_dir if self.write else None, recipe.seed, recipe_hash,
                           recipe.max_retries, self.registry, log=self.log)
        source.setup(run_info)
        generator.setup(run_info)
        if self.write:
            # Before any model is loaded: an unwritable output_dir or a second run on
            # the same directory is refused at once.
            self._lock = RunDirLock.acquire(run_dir)
        try:
            previous = self._check_previous(run_dir, recipe_hash) if self.write else None
        except BaseException:
            self._release_lock()
            raise
        if previous == "finished":
            self._release_lock()
            self.summary.status = "already_finished"
            self.summary.message = (f"{run_dir}: this run already finished; nothing to do "
                                    f"(use {FRESH_FLAG} to start afresh)")
            self.log.info("run_already_finished", run_dir=str(run_dir))
            return
        self.engine = self._make_engine(generator)
        if self._signals is not None:
            self._signals.reclaim()  # ray.init sets its own SIGTERM handler in the driver
        cache: CallCache | None = None
        journal: Journal | None = None
        try:
            identity = self.engine.identity
            cache = self._open_cache(identity)

            manifest = Manifest(
                run_dir=str(run_dir),
                recipe=plan.normalized(),
                recipe_hash=recipe_hash,
                plugins=plan.plugin_versions(),
                backend=converter.unstructure(identity),
                seed=recipe.seed,
                instructgen_version=_version(),
                started_at=now_iso(),
            )
            names = [RECORDS, REJECTS] + ([sink.filename] if sink and sink.filename else [])
            if self.write:
                run_dir.mkdir(parents=True, exist_ok=True)
                if self.fresh:
                    clear_run_dir(run_dir, [n for n in names if n not in (RECORDS, REJECTS)])
                old = read_manifest(run_dir)
                if old is not None:
                    manifest.started_at = old.started_at
                    manifest.sessions = old.sessions
                journal = Journal(run_dir, names)
                self._committed = journal.committed_items
                if sink is not None and sink.filename:
                    sink.open(run_dir / sink.filename)
                if journal.committed_items:
                    self._restore(journal, post)
            manifest.sessions.append({"started_at": now_iso(), "resumed_at_item":
                                      journal.committed_items if journal else 0,
                                      "model_load_s": self.load_times})
            self._manifest = manifest
            if self._signals is not None:
                self._signals.hold = True  # a signal from here on stops the loop, not setup
            self._save_manifest()

            self.registry.hook.instructgen_run_start(manifest=manifest)
            self.log.info("run_started", run_dir=str(run_dir), recipe_hash=recipe_hash[:12],
                          backend=identity.name, model=identity.model,
                          resumed_at_item=journal.committed_items if journal else 0)
            for worker, seconds in self.load_times.items():
                self.log.info("model_loaded", worker=worker, load_s=seconds)
        except BaseException:
            # Setup failed after the model was loaded: free it, the cache and the files.
            for resource in (journal, cache, self.engine):
                if resource is not None:
                    resource.close()
            self._release_lock()
            raise
        provenance_base = dict(recipe_hash=recipe_hash, plugins=manifest.plugins,
                               backend=identity, seed=recipe.seed)
        started = time.perf_counter()
        try:
            if self._signals is not None:
                self._signals.release()
            yield from self._loop(source, generator, post, sink, cache, journal, provenance_base)
        except KeyboardInterrupt as exc:
            self.summary.status = "interrupted"
            by = f"stopped by {exc.signame}" if isinstance(exc, Terminated) else "interrupted"
            self.summary.message = f"{by}; rerun the same command to resume"
            raise
        except OutputWriteError as exc:
            self.summary.status = "failed"
            self.summary.message = str(exc)
            raise
        except RunAborted as exc:
            self.summary.status = "aborted"
            self.summary.message = str(exc)
            raise
        except GeneratorExit:
            if self.summary.status == "running":
                self.summary.status = "stopped"
            raise
        except BaseException as exc:
            self.summary.status = "failed"
            self.summary.message = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self.summary.elapsed_s = time.perf_counter() - started
            self._finish(source, sink, cache, journal)

    # -- setup helpers --------------------------------------------------------------------

    def _make_engine(self, generator: Generator) -> Any:
        """The local engine (one backend or a replica pool), or the Ray engine."""
        plan, recipe = self.plan, self.recipe
        #: Seconds each worker took to load its model (recorded in the manifest's session).
        self.load_times: dict[str, float] = {}
        if recipe.engine.kind == "ray":
            from .engines.ray import RayEngine

            engine = RayEngine(plan, log=self.log)
            self._note_loads(engine.load_times)
            return engine
        if self._backend_override is not None:
            backend = self._backend_override
        elif plan.replicas != 1 or plan.isolate:
            from instructgen.backends.replicas import ReplicaPool

            backend = ReplicaPool(plan.backend.spec, plan.backend.options, plan.replicas,
                                  isolate=plan.isolate)
            self._note_loads(backend.load_times)
        else:
            started = time.perf_counter()
            backend = plan.backend.build()
            self._note_loads({"backend": round(time.perf_counter() - started, 3)})
        # Enough items in flight to keep every replica's batch full, twice over.
        concurrency = max(1, int(getattr(backend, "concurrency", 1)))
        window = recipe.in_flight or max(2 * recipe.batch_size * concurrency, 8)
        return LocalEngine(generator, plan.generator.spec.name, backend,
                           run_seed=recipe.seed, batch_size=recipe.batch_size, window=window,
                           max_retries=recipe.max_retries, log=self.log,
                           owns_backend=self._backend_override is None)

    def _note_loads(self, load_times: dict[str, float]) -> None:
        self.load_times = dict(load_times)

    def _check_previous(self, run_dir: Path, recipe_hash: str) -> str | None:
        if self.fresh:
            return None
        old = read_manifest(run_dir)
        if old is None:
            return None
        if old.recipe_hash != recipe_hash:
            changes = recipe_diff(hashable_view(old.recipe), hashable_view(self.plan.normalized()))
            shown = "; ".join(changes[:5]) + (f"; and {len(changes) - 5} more"
                                              if len(changes) > 5 else "")
            raise UserError(
                f"{run_dir} holds a run of a different recipe ({shown or 'plugin versions'});"
                f" use {FRESH_FLAG} to start afresh or another output_dir"
            )
        state = read_state(run_dir) or {}
        limit = self.recipe.limit
        committed = state.get("committed_items", 0)
        done = state.get("extra", {}).get("exhausted") or (limit is not None and committed >= limit)
        # Done but not marked finished: the sink's last step or the manifest failed (a full
        # disk); the rerun resumes with no item left and finishes them.
        return "finished" if done and old.status == "finished" else "resume"

    def _open_cache(self, identity: Any) -> CallCache | None:
        cfg = self.recipe.cache
        if not cfg.enabled:
            return None
        path = cfg.path or default_cache_path()
        return CallCache(path, identity, readonly=not self.write, log=self.log)

    def _restore(self, journal: Journal, post: list[PostProcessor]) -> None:
        counts = journal.extra.get("counts", {})
        for key in ("items", "accepted", "rejected", "rejected_items"):
            setattr(self.summary, key, counts.get(key, 0))
        self.summary.rejection_reasons = dict(journal.extra.get("reasons", {}))
        if post:
            path = journal.run_dir / RECORDS
            for pp in post:
                pp.restore(iter_records(path))

    # -- the loop ---------------------------------------------------------------------------

    def _loop(self, source, generator, post, sink, cache, journal, provenance_base):
        recipe, summary = self.recipe, self.summary
        skip = journal.committed_items if journal else 0
        limit = recipe.limit
        failures: collections.deque[bool] = collections.deque(maxlen=recipe.failure_window)
        self._committed = skip
        self._source_done = False
        source_iter = iter(source)
        for _ in range(skip):  # resume: the first ``skip`` items are already written
            if next(source_iter, None) is None:
                self._source_done = True
                break

        def numbered() -> Iterator[tuple[int, SourceItem]]:
            if self._source_done:
                return
            for index, item in enumerate(source_iter, start=skip):
                if limit is not None and index >= limit:
                    return
                yield index, item
            self._source_done = True

        bar = _Progress(self.progress, source.total(), limit, skip, summary)
        last_checkpoint = time.perf_counter()
        finished = False
        try:
            for outcome in self.engine.run(numbered(), cache):
                records, failed = self._commit(outcome, post, sink, journal, provenance_base)
                self._committed += 1
                if journal is not None:
                    journal.mark(self._committed, self._state_counts())
                failures.append(failed)
                bar.advance()
                self._check_failures(failures, recipe.max_failure_share)
                if time.perf_counter() - last_checkpoint > _COMMIT_EVERY_S:
                    self._checkpoint(journal, cache, final=False)
                    last_checkpoint = time.perf_counter()
                yield from records
            finished = True
        finally:
            if self._signals is not None:
                self._signals.hold = True  # the last commit is never cut short by a signal
            bar.close()
            self._checkpoint(journal, cache, final=finished)

    def _checkpoint(self, journal: Journal | None, cache: CallCache | None, *, final: bool) -> None:
        """Make committed work durable: cache writes, journal lines, then the state."""
        self._sync_counters()
        if cache is not None:
            cache.flush()
        if journal is not None:
            # Only marked (whole) items are written; after a failed write, nothing is.
            journal.commit({"exhausted": final and self._source_done})

    def _state_counts(self) -> dict[str, Any]:
        """The counts saved with the resume state, as of the last committed item."""
        s = self.summary
        return {"counts": {"items": s.items, "accepted": s.accepted, "rejected": s.rejected,
                           "rejected_items": s.rejected_items},
                "reasons": dict(s.rejection_reasons)}

    def _commit(self, outcome: ItemOutcome, post, sink, journal, provenance_base,
                ) -> tuple[list[OutputRecord], bool]:
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
            prov = Provenance(item_seed=outcome.seed, **provenance_base)
            payloads = outcome.payloads or []
            for k, payload in enumerate(payloads):
                rid = item.id if len(payloads) == 1 else f"{item.id}#{k}"
                record = OutputRecord(id=rid, item_id=item.id, generator=gen_name,
                                      data=dict(payload), provenance=prov, extra=dict(item.extra))
                record, rejection, broke = self._finish_record(record, post)
                failed = failed or broke
                if rejection is not None:
                    rejections.append(rejection)
                if record is not None:
                    accepted.append(record)
        for rej in rejections:
            summary.rejected += 1
            summary.rejection_reasons[rej.reason] = summary.rejection_reasons.get(rej.reason, 0) + 1
            self.log.debug("item_rejected", item=item.id, stage=rej.stage, plugin=rej.plugin,
                           reason=rej.reason, detail=rej.detail[:200])
        summary.accepted += len(accepted)
        self._early.observe(len(accepted), rejections)
        if journal is not None:
            for rej in rejections:
                journal.write(REJECTS, to_json(rej))
            for record in accepted:
                journal.write(RECORDS, to_json(record))
                if sink is not None and sink.filename:
                    journal.write(sink.filename, sink.encode(record))
        return accepted, failed

    def _finish_record(self, record: OutputRecord, post: list[PostProcessor],
                       ) -> tuple[OutputRecord | None, Rejection | None, bool]:
        """Run post-processors, then the review hook. Returns (record, rejection, crashed)."""
        for pp, stage in zip(post, self.plan.postprocess, strict=True):
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
        hook = self.registry.hook.instructgen_review_record
        if hook.get_hookimpls():
            review = RecordReview(record)
            hook(review=review)
            if review.vetoed:
                return None, Rejection(item_id=record.item_id, stage="review",
                                       plugin=review.vetoed_by or "",
                                       reason=review.veto_reason or "vetoed",
                                       data=dict(record.data)), False
            record = review.record
        return record, None, False

    def _sync_counters(self) -> None:
        if self.engine is None:
            return
        c, s = self.engine.counters, self.summary
        s.backend_calls, s.requests, s.cache_hits = c.backend_calls, c.requests, c.cache_hits
        s.prompt_tokens, s.completion_tokens = c.prompt_tokens, c.completion_tokens
        s.prompt_tokens_decoded = c.prompt_tokens_decoded
        s.backend_s = c.backend_s

    def _check_failures(self, failures: collections.deque[bool], max_share: float) -> None:
        seen = len(failures)
        if seen < min(20, failures.maxlen or 20):
            return
        share = sum(failures) / seen
        if share > max_share:
            raise RunAborted(
                f"stopped: {sum(failures)} of the last {seen} items failed "
                f"({share:.0%} > max_failure_share {max_share:.0%}); see "
                f"{REJECTS} for reasons (invalid model output or plugin errors)")

    # -- teardown -----------------------------------------------------------------------

    def _finish(self, source, sink, cache, journal) -> None:
        if self._signals is not None:
            self._signals.hold = True  # the save goes on; a signal now changes nothing
        summary = self.summary
        self._sync_counters()
        if summary.status == "running":
            summary.status = "finished"
        if cache is not None:
            cache.close()
        if journal is not None:
            journal.close()
        manifest = self._manifest
        manifest.status = summary.status
        manifest.message = summary.message or None
        manifest.finished_at = now_iso()
        manifest.counts = {
            "items": summary.items, "accepted": summary.accepted,
            "rejected": summary.rejected, "rejected_items": summary.rejected_items,
            "backend_calls": summary.backend_calls, "requests": summary.requests,
            "cache_hits": summary.cache_hits, "invalid_answers": summary.invalid_answers,
            "prompt_tokens": summary.prompt_tokens,
            "prompt_tokens_decoded": summary.prompt_tokens_decoded,
            "completion_tokens": summary.completion_tokens,
        }
        manifest.rejection_reasons = dict(sorted(summary.rejection_reasons.items(),
                                                 key=lambda kv: -kv[1]))
        manifest.source_stats = dict(source.stats())
        manifest.sessions[-1].update(finished_at=manifest.finished_at,
                                     elapsed_s=round(summary.elapsed_s, 3),
                                     backend_s=round(summary.backend_s, 3))
        manifest.throughput = {
            "items_per_s": round(summary.items_per_s, 3),
            "tokens_per_s": round(summary.tokens_per_s, 3),
            "backend_share": round(summary.backend_s / summary.elapsed_s, 4)
            if summary.elapsed_s else 0.0,
        }
        failed: OutputWriteError | None = None
        try:
            if summary.status == "finished" and sink is not None and self.write:
                run_dir = Path(self.recipe.output_dir)
                try:
                    sink.finalize(run_dir, lambda: iter_records(run_dir))
                except OSError as exc:  # a full disk while the sink converts the run
                    failed = OutputWriteError(exc.filename or run_dir, exc,
                                              committed=self._committed)
                    summary.status = manifest.status = "failed"
                    summary.message = manifest.message = str(failed)
            try:
                self._save_manifest()
            except OutputWriteError as exc:  # a full disk: the state on disk is still right
                if summary.status == "finished":
                    raise
                self.log.warning("manifest_not_saved", error=str(exc))
            self.registry.hook.instructgen_run_end(manifest=manifest, summary=summary)
            self.log.info("run_finished", status=summary.status, items=summary.items,
                          accepted=summary.accepted, rejected=summary.rejected,
                          seconds=round(summary.elapsed_s, 2),
                          items_per_s=round(summary.items_per_s, 1))
            if failed is not None:
                raise failed
        finally:
            if self.engine is not None:
                self.engine.close()
            self._release_lock()

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _save_manifest(self) -> None:
        if self.write:
            path = Path(self.recipe.output_dir) / "manifest.json"
            try:
                write_json_atomic(path, converter.unstructure(self._manifest))
            except OSError as exc:
                raise OutputWriteError(path, exc,
                                       committed=getattr(self, "_committed", 0)) from None


class _Progress:
    """A rich progress bar on terminals; nothing otherwise."""

    def __init__(self, enabled: bool, total: int | None, limit: int | None, done: int,
                 summary: RunSummary) -> None:
        self.summary = summary
        self.bar = None
        if not enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        if total is not None and limit is not None:
            total = min(total, limit)
        elif total is None:
            total = limit
        self.bar = Progress(
            TextColumn("[bold]items"), BarColumn(), MofNCompleteColumn(),
            TextColumn("[green]{task.fields[acc]} ok [red]{task.fields[rej]} rejected"),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            transient=False,
        )
        self.task = self.bar.add_task("run", total=total, completed=done, acc=0, rej=0, rate="")
        self.t0 = time.perf_counter()
        self.bar.start()
        self._last = 0.0

    def advance(self) -> None:
        if self.bar is None:
            return
        self.bar.advance(self.task)
        if time.perf_counter() - self._last > 0.1:
            self._refresh()

    def _refresh(self) -> None:
        assert self.bar is not None
        now = time.perf_counter()
        s, dt = self.summary, max(now - self.t0, 1e-9)
        decoded = (f" prompt {s.prompt_tokens_decoded / s.prompt_tokens:.0%} decoded"
                   if s.prompt_tokens else "")
        self.bar.update(self.task, acc=s.accepted, rej=s.rejected,
                        rate=f"{s.items / dt:.1f} it/s {s.completion_tokens / dt:.0f} tok/s"
                             f"{decoded}")
        self._last = now

    def close(self) -> None:
        if self.bar is not None:
            self._refresh()  # the last figures, not the ones from up to 0.1 s ago
            self.bar.stop()


class SignalGate:
    """Raises :class:`Terminated` for the first SIGTERM or SIGHUP, unless held.

    While ``hold`` is set (the run is saving its manifest or finishing), a signal
    is only noted; :meth:`release` raises it then. Later signals are ignored, so
    the save that the first one started can finish.
    """

    def __init__(self) -> None:
        self.hold = False
        self.caught: int | None = None
        self._raised = False
        #: The signals this gate handles (those left at their default when the run began).
        self.signals: list[int] = []

    def handler(self, signum: int, _frame: Any) -> None:
        if self.caught is not None:
            return
        self.caught = signum
        if not self.hold:
            self._raised = True
            raise Terminated(signum)

    def release(self) -> None:
        self.hold = False
        if self.caught is not None and not self._raised:
            self._raised = True
            raise Terminated(self.caught)

    def reclaim(self) -> None:
        """Handle our signals again after a library the run started took them over."""
        for sig in self.signals:
            if signal.getsignal(sig) != self.handler:
                signal.signal(sig, self.handler)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[SignalGate | None]:
    """Turn SIGTERM and SIGHUP into :class:`Terminated` (a ``KeyboardInterrupt``).

    Schedulers (Slurm, Kubernetes, systemd) send SIGTERM before they kill a job;
    closing a terminal sends SIGHUP. Both then save finished work like Ctrl-C. Only
    signals left at their default are taken over, and only in the main thread, so
    an application's own handlers (or ``nohup``) win; then this yields ``None``.
    """
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    gate = SignalGate()
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:
            previous[sig] = signal.signal(sig, gate.handler)
            gate.signals.append(sig)
    try:
        yield gate if previous else None
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)  # whoever took it over meanwhile was started by the run


def _version() -> str:
    from . import __version__

    return __version__
