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
import json
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from .cache import CallCache, default_cache_path
from .context import ItemContext, RunInfo, _Ask
from .errors import ContextOverflowError, Reject, RunAborted, UserError
from .manager import PluginRegistry
from .plugin import Generator, PostProcessor, Sink, Source
from .recipe import Plan
from .records import (
    Completion,
    LLMRequest,
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
    clear_run_dir,
    iter_records,
    now_iso,
    read_manifest,
    recipe_diff,
    write_json_atomic,
)
from .seeds import derive_seed

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


class _Work:
    """One item in flight."""

    __slots__ = ("coro", "ctx", "done", "error", "index", "item", "result", "waiting")

    def __init__(self, index: int, item: SourceItem, ctx: ItemContext, coro: Any) -> None:
        self.index, self.item, self.ctx, self.coro = index, item, ctx, coro
        self.done = False
        self.result: Any = None
        self.error: Reject | None = None
        self.waiting: _Ask | None = None


class _Parked:
    """A request waiting for the backend, and where its answer goes."""

    __slots__ = ("ask", "key", "pos", "request", "work")

    def __init__(self, work: _Work, ask: _Ask, pos: int, request: LLMRequest, key: str | None):
        self.work, self.ask, self.pos, self.request, self.key = work, ask, pos, request, key


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
        self.backend: Any = None

    # -- public ---------------------------------------------------------------------

    def run(self) -> RunSummary:
        """Run to the end (or to the recipe's ``limit``) and return the counts."""
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
        generator.setup(RunInfo(run_dir if self.write else None, recipe.seed, recipe_hash,
                                recipe.max_retries, self.registry))
        previous = self._check_previous(run_dir, recipe_hash) if self.write else None
        if previous == "finished":
            self.summary.status = "already_finished"
            self.summary.message = (f"{run_dir}: this run already finished; nothing to do "
                                    f"(use {FRESH_FLAG} to start afresh)")
            self.log.info("run_already_finished", run_dir=str(run_dir))
            return
        self.backend = self._backend_override or plan.backend.build()
        identity = self.backend.identity
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
        journal: Journal | None = None
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
            if journal.committed_items:
                self._restore(journal, post)
        manifest.sessions.append({"started_at": now_iso(), "resumed_at_item":
                                  journal.committed_items if journal else 0})
        self._manifest = manifest
        self._journal = journal
        self._save_manifest()

        self.registry.hook.instructgen_run_start(manifest=manifest)
        self.log.info("run_started", run_dir=str(run_dir), recipe_hash=recipe_hash[:12],
                      backend=identity.name, model=identity.model,
                      resumed_at_item=journal.committed_items if journal else 0)
        provenance_base = dict(recipe_hash=recipe_hash, plugins=manifest.plugins,
                               backend=identity, seed=recipe.seed)
        started = time.perf_counter()
        try:
            yield from self._loop(source, generator, post, sink, cache, journal, provenance_base)
        except KeyboardInterrupt:
            self.summary.status = "interrupted"
            self.summary.message = "interrupted; rerun the same command to resume"
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

    def _check_previous(self, run_dir: Path, recipe_hash: str) -> str | None:
        if self.fresh:
            return None
        old = read_manifest(run_dir)
        if old is None:
            return None
        if old.recipe_hash != recipe_hash:
            changes = recipe_diff(_hashed(old.recipe), _hashed(self.plan.normalized()))
            shown = "; ".join(changes[:5]) + (f"; and {len(changes) - 5} more"
                                              if len(changes) > 5 else "")
            raise UserError(
                f"{run_dir} holds a run of a different recipe ({shown or 'plugin versions'});"
                f" use {FRESH_FLAG} to start afresh or another output_dir"
            )
        state = _read_state_extra(run_dir)
        limit = self.recipe.limit
        committed = state.get("committed_items", 0)
        if state.get("extra", {}).get("exhausted") or (limit is not None and committed >= limit):
            return "finished"
        return "resume"

    def _open_cache(self, identity: Any) -> CallCache | None:
        cfg = self.recipe.cache
        if not cfg.enabled:
            return None
        path = cfg.path or default_cache_path()
        return CallCache(path, identity, readonly=not self.write)

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
        recipe, summary, log = self.recipe, self.summary, self.log
        batch_size = recipe.batch_size
        window = recipe.in_flight or max(2 * batch_size, 8)
        skip = journal.committed_items if journal else 0
        limit = recipe.limit
        gen_name = self.plan.generator.spec.name
        hook = self.registry.hook.instructgen_review_record
        has_review = bool(hook.get_hookimpls())
        failures: collections.deque[bool] = collections.deque(maxlen=recipe.failure_window)
        max_share = recipe.max_failure_share

        pending: collections.deque[_Parked] = collections.deque()
        unchecked: list[_Parked] = []  # parked, not yet looked up in the cache
        inflight: dict[int, _Work] = {}
        next_commit = skip
        next_index = skip
        source_iter = iter(source)
        exhausted = False  # no more items will be started
        source_done = False  # the source itself ran out (not just the limit)
        for _ in range(skip):  # resume: the first ``skip`` items are already written
            if next(source_iter, None) is None:
                exhausted = source_done = True
                break
        last_commit = time.perf_counter()
        bar = _Progress(self.progress, source.total(), limit, skip, summary)

        def step(work: _Work, value: Any) -> None:
            # Run the item's coroutine until it parks on requests or finishes.
            try:
                ask = work.coro.send(value)
            except StopIteration as stop:
                work.done, work.result = True, stop.value
                return
            except Reject as rej:
                work.done, work.error = True, rej
                return
            except UserError:
                raise
            except Exception as exc:  # one item's bug must not kill the run
                work.done = True
                work.error = Reject("plugin_error", f"{type(exc).__name__}: {exc}",
                                    stage="generate")
                return
            if not isinstance(ask, _Ask):
                work.coro.close()
                work.done = True
                work.error = Reject("plugin_error", f"generator awaited {ask!r}; generators "
                                    "may only await ctx.ask / ctx.ask_all", stage="generate")
                return
            park(work, ask)

        def park(work: _Work, ask: _Ask) -> None:
            work.waiting = ask
            ask.results = [None] * len(ask.requests)  # type: ignore[list-item]
            queue = unchecked if cache else pending
            for pos, req in enumerate(ask.requests):
                queue.append(_Parked(work, ask, pos, req, cache.key(req) if cache else None))

        def resume(work: _Work) -> None:
            ask, work.waiting = work.waiting, None
            assert ask is not None
            step(work, ask.results)

        def serve_from_cache() -> None:
            # One query for everything parked since the last look, not one per item.
            while unchecked:
                batch = list(unchecked)
                unchecked.clear()
                hits = cache.get_many(list({p.key for p in batch}))
                ready = []
                for parked in batch:
                    hit = hits.get(parked.key)
                    if hit is None:
                        pending.append(parked)
                        continue
                    summary.cache_hits += 1
                    results = parked.ask.results
                    results[parked.pos] = hit
                    if all(r is not None for r in results):
                        ready.append(parked.work)
                for work in ready:
                    if not work.done and work.waiting is not None:
                        resume(work)

        def start(index: int, item: SourceItem) -> None:
            seed = derive_seed(recipe.seed, item.id)
            ctx = ItemContext(item, seed, max_retries=recipe.max_retries, log=log)
            try:
                coro = generator.generate(item, ctx)
            except Exception as exc:
                coro = _raise(exc)
            work = _Work(index, item, ctx, coro)
            inflight[index] = work
            step(work, None)

        def dispatch() -> None:
            batch = [pending.popleft() for _ in range(min(batch_size, len(pending)))]
            requests = [p.request for p in batch]
            t0 = time.perf_counter()
            answers = self._generate(requests)
            took = time.perf_counter() - t0
            summary.backend_s += took
            summary.backend_calls += 1
            summary.requests += len(batch)
            tokens = 0
            to_cache = []
            resumed: list[_Work] = []
            for parked, answer in zip(batch, answers, strict=True):
                if isinstance(answer, Reject):
                    work = parked.work
                    if not work.done:
                        work.coro.close()
                        work.done, work.error = True, answer
                    continue
                summary.prompt_tokens += answer.prompt_tokens
                summary.completion_tokens += answer.completion_tokens
                tokens += answer.completion_tokens
                if parked.key:
                    to_cache.append((parked.key, answer))
                ask = parked.ask
                assert ask.results is not None
                ask.results[parked.pos] = answer
                if parked.work.waiting is ask and all(r is not None for r in ask.results):
                    resumed.append(parked.work)
            if cache and to_cache:
                cache.put_many(to_cache)
            log.debug("batch_done", size=len(batch), seconds=round(took, 4), tokens=tokens,
                      pending=len(pending), in_flight=len(inflight))
            for work in resumed:
                if not work.done:
                    resume(work)

        def commit(work: _Work) -> list[OutputRecord]:
            item, ctx = work.item, work.ctx
            summary.items += 1
            summary.invalid_answers += ctx.invalid_answers
            rejections = [attrs.evolve(r, plugin=r.plugin or gen_name) for r in ctx.rejections]
            accepted: list[OutputRecord] = []
            failed = False
            if work.error is None and not _is_payload_list(work.result):
                got = type(work.result).__name__
                work.error = Reject("plugin_error", f"generator returned {got}, expected a list "
                                    "of mappings", stage="generate")
            if work.error is not None:
                err = work.error
                failed = err.reason in FAILURE_REASONS
                rejections.append(Rejection(item_id=item.id, stage=err.stage or "generate",
                                            plugin=gen_name, reason=err.reason,
                                            detail=err.detail, raw=err.raw,
                                            data=dict(item.data)))
                summary.rejected_items += 1
            else:
                prov = Provenance(item_seed=ctx.seed, **provenance_base)
                payloads = list(work.result)
                for k, payload in enumerate(payloads):
                    rid = item.id if len(payloads) == 1 else f"{item.id}#{k}"
                    record: OutputRecord | None = OutputRecord(
                        id=rid, item_id=item.id, generator=gen_name, data=dict(payload),
                        provenance=prov, extra=dict(item.extra))
                    for pp, stage in zip(post, self.plan.postprocess, strict=True):
                        try:
                            record = pp.process(record)
                        except Reject as rej:
                            rejections.append(Rejection(
                                item_id=item.id, stage="postprocess", plugin=stage.spec.name,
                                reason=rej.reason, detail=rej.detail, raw=rej.raw,
                                data=dict(record.data)))
                            record = None
                            break
                        except Exception as exc:
                            rejections.append(Rejection(
                                item_id=item.id, stage="postprocess", plugin=stage.spec.name,
                                reason="plugin_error", detail=f"{type(exc).__name__}: {exc}",
                                data=dict(record.data)))
                            record = None
                            failed = True
                            break
                    if record is not None and has_review:
                        review = RecordReview(record)
                        hook(review=review)
                        if review.vetoed:
                            rejections.append(Rejection(
                                item_id=item.id, stage="review", plugin=review.vetoed_by or "",
                                reason=review.veto_reason or "vetoed", data=dict(record.data)))
                            record = None
                        else:
                            record = review.record
                    if record is not None:
                        accepted.append(record)
            failures.append(failed)
            for rej in rejections:
                summary.rejected += 1
                summary.rejection_reasons[rej.reason] = (
                    summary.rejection_reasons.get(rej.reason, 0) + 1)
                log.debug("item_rejected", item=item.id, stage=rej.stage, plugin=rej.plugin,
                          reason=rej.reason, detail=rej.detail[:200])
            summary.accepted += len(accepted)
            if journal is not None:
                for rej in rejections:
                    journal.write(REJECTS, to_json(rej))
                for record in accepted:
                    journal.write(RECORDS, to_json(record))
                    if sink is not None and sink.filename:
                        journal.write(sink.filename, sink.encode(record))
            return accepted

        def checkpoint(final: bool = False) -> None:
            nonlocal last_commit
            if cache is not None:
                cache.flush()
            if journal is not None:
                journal.commit(next_commit, {
                    "exhausted": final and source_done,
                    "counts": {"items": summary.items, "accepted": summary.accepted,
                               "rejected": summary.rejected,
                               "rejected_items": summary.rejected_items},
                    "reasons": summary.rejection_reasons,
                })
            last_commit = time.perf_counter()

        try:
            while True:
                # Start new items while the window has room.
                while not exhausted and len(inflight) < window:
                    if limit is not None and next_index >= limit:
                        exhausted = True
                        break
                    item = next(source_iter, None)
                    if item is None:
                        exhausted = source_done = True
                        break
                    if not isinstance(item, SourceItem):
                        raise UserError(f"source {self.plan.source.spec.name!r} yielded "
                                        f"{type(item).__name__}, expected SourceItem")
                    start(next_index, item)
                    next_index += 1
                serve_from_cache()
                # Commit finished items in order.
                while next_commit in inflight and inflight[next_commit].done:
                    work = inflight.pop(next_commit)
                    records = commit(work)
                    next_commit += 1
                    bar.advance()
                    self._check_failures(failures, max_share)
                    if time.perf_counter() - last_commit > _COMMIT_EVERY_S:
                        checkpoint()
                    yield from records
                if pending and (len(pending) >= batch_size or exhausted
                                or len(inflight) >= window):
                    dispatch()
                    serve_from_cache()
                    continue
                if not inflight and exhausted:
                    break
                if not pending and inflight and not any(w.done for w in inflight.values()):
                    raise RuntimeError("scheduler stalled: items in flight but no requests")
        finally:
            bar.close()
            checkpoint(final=not inflight and exhausted)

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

    def _generate(self, requests: list[LLMRequest]) -> list[Completion | Reject]:
        """One backend call; a prompt too long for the context rejects only its item."""
        try:
            answers = self.backend.generate(requests)
        except ContextOverflowError:
            if len(requests) == 1:
                raise
            out: list[Completion | Reject] = []
            for req in requests:
                try:
                    out.extend(self.backend.generate([req]))
                except ContextOverflowError as exc:
                    out.append(Reject("context_overflow", str(exc), stage="generate"))
            return out
        if len(answers) != len(requests):
            raise RuntimeError(f"backend returned {len(answers)} answers for "
                               f"{len(requests)} requests")
        return answers

    # -- teardown -----------------------------------------------------------------------

    def _finish(self, source, sink, cache, journal) -> None:
        summary = self.summary
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
        if summary.status == "finished" and sink is not None and self.write:
            run_dir = Path(self.recipe.output_dir)
            sink.finalize(run_dir, lambda: iter_records(run_dir))
        self._save_manifest()
        self.registry.hook.instructgen_run_end(manifest=manifest, summary=summary)
        self.log.info("run_finished", status=summary.status, items=summary.items,
                      accepted=summary.accepted, rejected=summary.rejected,
                      seconds=round(summary.elapsed_s, 2),
                      items_per_s=round(summary.items_per_s, 1))
        if self.backend is not None and self._backend_override is None:
            self.backend.close()

    def _save_manifest(self) -> None:
        if self.write:
            write_json_atomic(Path(self.recipe.output_dir) / "manifest.json",
                              converter.unstructure(self._manifest))


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
        now = time.perf_counter()
        self.bar.advance(self.task)
        if now - self._last > 0.1:
            s, dt = self.summary, max(now - self.t0, 1e-9)
            self.bar.update(self.task, acc=s.accepted, rej=s.rejected,
                            rate=f"{s.items / dt:.1f} it/s {s.completion_tokens / dt:.0f} tok/s")
            self._last = now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


async def _raise(exc: BaseException) -> Any:
    """A coroutine that fails at once: a generator that raised before its first await."""
    raise exc


def _is_payload_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and all(
        isinstance(v, Mapping) for v in value)


def _hashed(recipe: dict[str, Any]) -> dict[str, Any]:
    from .recipe import hashable_view

    return hashable_view(recipe)


def _read_state_extra(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "state.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _version() -> str:
    from . import __version__

    return __version__

