"""The runner: streams items through generator, post-processors and sink.

Generators are coroutines that ``await ctx.ask(...)``. An engine steps each
item until it parks on a model request, gathers the parked requests of many
items into backend calls of up to ``batch_size``, and resumes the items with
their answers. Finished items are committed strictly in source order, which
makes the output independent of batch size and lets a crashed run resume
exactly where its files end.

The runner only orchestrates; each decision has its own owner:
:class:`~instructgen.directory.RunDirectory` (lock, resume verdict, journal,
manifest), :func:`~instructgen.engines.choose_engine` (where generation runs),
:class:`~instructgen.commit.Committer` (post-processing, review, counts,
writes) and :class:`~instructgen.counters.RunSummary` (the counts).
"""

from __future__ import annotations

import os
import sys
import time
from collections import abc
from collections.abc import Iterator

from instructgen.logs import Log

from .backend import Backend, BackendIdentity
from .cache import CallCache, default_cache_path
from .canonical import converter
from .commit import Committer
from .counters import RunSummary
from .directory import RunDirectory, run_manifest
from .engines import Engine, choose_engine
from .errors import OutputWriteError, RunAborted, Terminated, UserError
from .manager import PluginRegistry
from .plan import Plan
from .plugin import Generator, PostProcessor, RunInfo, Sink, Source
from .progress import ProgressBar
from .records import OutputRecord, SourceItem
from .rundir import FRESH_FLAG
from .signals import SignalGate, terminate_as_interrupt

#: Environment variable that sets the checkpoint interval, in seconds: a test hook, not
#: a setting (the recipe has no such key, and the output does not depend on it). Tests
#: that kill a CLI run in a subprocess set it to 0, a checkpoint after every item, so
#: they can strike on a checkpoint they saw instead of after a guessed sleep. Read
#: once, at import; in-process tests patch ``_COMMIT_EVERY_S`` itself.
COMMIT_EVERY_ENV = "INSTRUCTGEN_TEST_COMMIT_EVERY_S"

#: Seconds between checkpoints (journal lines, then ``state.json``).
_COMMIT_EVERY_S = float(os.environ.get(COMMIT_EVERY_ENV) or 0.25)


class Runner:
    """Runs one resolved recipe. Use :meth:`records` to stream, :meth:`run` to finish."""

    def __init__(self, plan: Plan, registry: PluginRegistry, *, write: bool = True,
                 fresh: bool = False, backend: Backend | None = None, log: Log | None = None,
                 progress: bool | None = None) -> None:
        from .logs import quiet_logger

        self.plan, self.recipe, self.registry = plan, plan.recipe, registry
        self.write, self.fresh = write, fresh
        self.log = log or quiet_logger()
        self.progress = sys.stderr.isatty() if progress is None else progress
        self._backend_override = backend
        self.rundir = RunDirectory(plan, write=write, fresh=fresh)
        self.summary = RunSummary(run_dir=self.rundir.path if write else None,
                                  outcome=self.rundir.outcome)
        self.engine: Engine | None = None
        self._signals: SignalGate | None = None

    def run(self) -> RunSummary:
        """Run to the end (or to the recipe's ``limit``) and return the counts.

        SIGTERM and SIGHUP stop the run like Ctrl-C (finished work saved, status
        ``interrupted``) by raising :class:`Terminated`, where nobody else handles them.
        """
        with terminate_as_interrupt() as self._signals:
            for _ in self.records():
                pass
        return self.summary

    def records(self) -> abc.Generator[OutputRecord, None, None]:
        """Yield accepted records as they are committed, in source order."""
        plan, recipe, rundir = self.plan, self.recipe, self.rundir
        # Build everything that can fail on user input before touching the disk.
        source: Source = plan.source.build()
        generator: Generator = plan.generator.build()
        post: list[PostProcessor] = [s.build() for s in plan.postprocess]
        sink: Sink | None = plan.sink.build() if plan.sink else None
        run_info = RunInfo(rundir.path if self.write else None, recipe.seed, plan.hash,
                           recipe.max_retries, plan.context, log=self.log)
        source.setup(run_info)
        generator.setup(run_info)
        if rundir.claim() == "finished":
            rundir.outcome.stop("already_finished",
                                f"{rundir.path}: this run already finished; nothing to do "
                                f"(use {FRESH_FLAG} to start afresh)")
            self.log.info("run_already_finished", run_dir=str(rundir.path))
            return
        self.engine = engine = choose_engine(plan, self.registry.spec, generator, self.summary,
                                             log=self.log, backend=self._backend_override)
        if self._signals is not None:
            self._signals.reclaim()  # ray.init sets its own SIGTERM handler in the driver
        committer, cache = self._start(engine, post, sink)
        started = time.perf_counter()
        try:
            if self._signals is not None:
                self._signals.release()
            yield from self._loop(source, committer, cache)
        except KeyboardInterrupt as exc:
            by = f"stopped by {exc.signame}" if isinstance(exc, Terminated) else "interrupted"
            rundir.outcome.stop("interrupted", f"{by}; rerun the same command to resume")
            raise
        except (OutputWriteError, RunAborted) as exc:
            rundir.outcome.stop("failed" if isinstance(exc, OutputWriteError) else "aborted",
                                str(exc))
            raise
        except GeneratorExit:
            rundir.outcome.end("stopped")
            raise
        except BaseException as exc:
            rundir.outcome.stop("failed", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self.summary.elapsed_s = time.perf_counter() - started
            self._finish(source, committer, cache)

    # -- setup --------------------------------------------------------------------------------

    def _start(self, engine: Engine, post: list[PostProcessor],
               sink: Sink | None) -> tuple[Committer, CallCache | None]:
        """Open the cache and the run directory, resume, and announce the run."""
        rundir, cache = self.rundir, None
        try:
            identity = engine.identity
            cache = self._open_cache(identity)
            manifest = run_manifest(self.plan, converter.unstructure(identity))
            journal = rundir.open(manifest, sink.filename if sink else None)
            if journal is not None and sink is not None and sink.filename:
                sink.open(rundir.path / sink.filename)
            committer = Committer(self.plan, self.registry, post, sink, self.summary, journal,
                                  provenance=dict(recipe_hash=self.plan.hash,
                                                  plugins=manifest.plugins, backend=identity,
                                                  seed=self.recipe.seed), log=self.log)
            committer.restore()
            if self._signals is not None:
                self._signals.hold = True  # a signal from here on stops the loop, not setup
            rundir.start_session(engine.load_times)
            self.registry.run_start(rundir.manifest)
            self.log.info("run_started", run_dir=str(rundir.path),
                          recipe_hash=self.plan.hash[:12], backend=identity.name,
                          model=identity.model, resumed_at_item=rundir.committed_items)
            for worker, seconds in engine.load_times.items():
                self.log.info("model_loaded", worker=worker, load_s=seconds)
        except BaseException:
            # Setup failed after the model was loaded: free it, the cache and the files.
            rundir.close()
            for resource in (cache, engine):
                if resource is not None:
                    resource.close()
            rundir.release()
            raise
        return committer, cache

    def _open_cache(self, identity: BackendIdentity) -> CallCache | None:
        cfg = self.recipe.cache
        if not cfg.enabled:
            return None
        path = cfg.path or default_cache_path()
        return CallCache(path, identity, readonly=not self.write, log=self.log)

    # -- the loop -------------------------------------------------------------------------------

    def _loop(self, source: Source, committer: Committer,
              cache: CallCache | None) -> Iterator[OutputRecord]:
        assert self.engine is not None
        skip, limit = committer.committed, self.recipe.limit
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

        bar = ProgressBar(self.progress, source.total(), limit, skip, self.summary)
        last_checkpoint = time.perf_counter()
        finished = False
        try:
            for outcome in self.engine.run(numbered(), cache):
                records = committer.commit(outcome)
                bar.advance()
                committer.check_failures()
                if time.perf_counter() - last_checkpoint > _COMMIT_EVERY_S:
                    self._checkpoint(cache, final=False)
                    last_checkpoint = time.perf_counter()
                yield from records
            finished = True
        finally:
            if self._signals is not None:
                self._signals.hold = True  # the last commit is never cut short by a signal
            bar.close()
            self._checkpoint(cache, final=finished)

    def _checkpoint(self, cache: CallCache | None, *, final: bool) -> None:
        """Make committed work durable: cache writes, journal lines, then the state."""
        if cache is not None:
            cache.flush()
        self.rundir.checkpoint(exhausted=final and self._source_done)

    # -- teardown -------------------------------------------------------------------------------

    def _finish(self, source: Source, committer: Committer, cache: CallCache | None) -> None:
        """Close the run: the sink's last step, the final manifest, then publishing.

        Every status change goes to the run directory's outcome, which the summary
        and the saved manifest both read; a failure here is raised after the
        ``run_end`` hooks have seen the final manifest.
        """
        if self._signals is not None:
            self._signals.hold = True  # the save goes on; a signal now changes nothing
        summary, rundir, outcome = self.summary, self.rundir, self.rundir.outcome
        outcome.end("finished")
        if cache is not None:
            cache.close()
        rundir.finish(summary, source.stats())
        failed: UserError | None = None
        try:
            if outcome.status == "finished" and self.write:
                failed = committer.finalize(rundir.path)
                if failed is not None:
                    outcome.stop("failed", str(failed))
            manifest = rundir.manifest
            try:
                rundir.save_manifest(committer.committed)
            except OutputWriteError as exc:  # a full disk: the state on disk is still right
                if outcome.status == "finished":
                    raise
                self.log.warning("manifest_not_saved", error=str(exc))
            if outcome.status == "finished" and self.write:
                try:  # the manifest is final: publish what it describes
                    published = committer.publish(rundir.path)
                except UserError as exc:  # the run is complete on disk all the same
                    failed = exc
                else:
                    if published:
                        outcome.note(published)
            self.registry.run_end(manifest, summary)
            self.log.info("run_finished", status=summary.status, items=summary.items,
                          accepted=summary.accepted, rejected=summary.rejected,
                          seconds=round(summary.elapsed_s, 2),
                          items_per_s=round(summary.items_per_s, 1))
            if failed is not None:
                raise failed
        finally:
            if self.engine is not None:
                self.engine.close()
            rundir.release()
