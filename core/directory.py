"""One run's hold on its output directory: the lock, the resume verdict, the journal, the manifest.

The file formats live in :mod:`instructgen.rundir`; this object decides, for
one run, whether the directory may be used, whether it resumes or is already
finished, opens the journal where the last commit ended, and keeps the
manifest up to date across sessions. With ``write`` off (``preview``) it holds
and writes nothing, but still keeps the manifest the hooks receive.

It also owns how the run ends, :attr:`RunDirectory.outcome`: the runner says it
there, the run's summary reads it, and the manifest is rendered from it when it
is saved or handed to a hook.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .canonical import converter
from .counters import RunSummary
from .errors import OutputWriteError, UserError
from .plan import Plan
from .recipe import hashable_view
from .rundir import (
    FRESH_FLAG,
    MANIFEST,
    RECORDS,
    REJECTS,
    Journal,
    Manifest,
    RunDirLock,
    RunOutcome,
    clear_run_dir,
    now_iso,
    read_manifest,
    read_state,
    recipe_diff,
    write_json_atomic,
)
from .version import __version__


class RunDirectory:
    """The output directory of one run of ``plan``."""

    def __init__(self, plan: Plan, *, write: bool, fresh: bool) -> None:
        self.plan, self.write, self.fresh = plan, write, fresh
        self.path = Path(plan.recipe.output_dir)
        self.journal: Journal | None = None
        #: How the run ends; the summary and the manifest read this one object.
        self.outcome = RunOutcome()
        #: What the run is (recipe, hashes, sessions, end figures); never its status.
        self._manifest: Manifest | None = None
        self._lock: RunDirLock | None = None

    # -- before the model loads -------------------------------------------------------------

    def claim(self) -> str | None:
        """Lock the directory and judge what it holds (see :meth:`verdict`).

        Called before any model is loaded, so an unwritable ``output_dir``, a second
        run on it or another recipe's run is refused at once. The lock is held from
        here to :meth:`release`, except when the run is already finished.
        """
        if self.write:
            self._lock = RunDirLock.acquire(self.path)
        try:
            verdict = self.verdict()
        except BaseException:
            self.release()
            raise
        if verdict == "finished":
            self.release()
        return verdict

    def verdict(self) -> str | None:
        """``"finished"``, ``"resume"``, or ``None`` (nothing to resume, or ``--fresh``).

        A directory holding another recipe's run is a :class:`UserError` naming the
        keys that changed.
        """
        if self.fresh or not self.write:
            return None
        old = read_manifest(self.path)
        if old is None:
            return None
        if old.recipe_hash != self.plan.hash:
            changes = recipe_diff(hashable_view(old.recipe), hashable_view(self.plan.normalized()))
            shown = "; ".join(changes[:5]) + (f"; and {len(changes) - 5} more"
                                              if len(changes) > 5 else "")
            raise UserError(
                f"{self.path} holds a run of a different recipe ({shown or 'plugin versions'});"
                f" use {FRESH_FLAG} to start afresh or another output_dir"
            )
        state = read_state(self.path) or {}
        limit = self.plan.recipe.limit
        committed = state.get("committed_items", 0)
        done = state.get("extra", {}).get("exhausted") or (limit is not None and committed >= limit)
        # Done but not marked finished: the sink's last step or the manifest failed (a full
        # disk); the rerun resumes with no item left and finishes them.
        return "finished" if done and old.status == "finished" else "resume"

    # -- the session --------------------------------------------------------------------------

    def open(self, manifest: Manifest, sink_file: str | None) -> Journal | None:
        """Open the journal where the last commit ended (``--fresh``: clear the directory
        first); ``manifest`` keeps the first session's start and the earlier sessions."""
        self._manifest = manifest
        if not self.write:
            return None
        names = [RECORDS, REJECTS] + ([sink_file] if sink_file else [])
        self.path.mkdir(parents=True, exist_ok=True)
        if self.fresh:
            clear_run_dir(self.path, [n for n in names if n not in (RECORDS, REJECTS)])
        old = read_manifest(self.path)
        if old is not None:
            manifest.started_at = old.started_at
            manifest.sessions = old.sessions
        self.journal = Journal(self.path, names)
        return self.journal

    @property
    def committed_items(self) -> int:
        return self.journal.committed_items if self.journal is not None else 0

    @property
    def manifest(self) -> Manifest:
        """The manifest as it stands: what :meth:`open` received, with the sessions and
        end figures added since, and the status and message of :attr:`outcome`."""
        assert self._manifest is not None, "the run directory is not open"
        return attrs.evolve(self._manifest, status=self.outcome.status,
                            message=self.outcome.message or None)

    def start_session(self, load_times: dict[str, float]) -> None:
        """Record this session's start in the manifest and save it."""
        assert self._manifest is not None
        self._manifest.sessions.append({"started_at": now_iso(),
                                        "resumed_at_item": self.committed_items,
                                        "model_load_s": load_times})
        self.save_manifest(self.committed_items)

    def finish(self, summary: RunSummary, source_stats: Mapping[str, int]) -> None:
        """Close the journal and put the session's end figures (times, counts, reasons)
        into the manifest (not saved); its status is :attr:`outcome`'s."""
        if self.journal is not None:
            self.journal.close()
        manifest = self._manifest
        assert manifest is not None
        manifest.finished_at = now_iso()
        manifest.counts = summary.counts()
        manifest.rejection_reasons = dict(sorted(summary.rejection_reasons.items(),
                                                 key=lambda kv: -kv[1]))
        manifest.source_stats = dict(source_stats)
        manifest.sessions[-1].update(finished_at=manifest.finished_at,
                                     elapsed_s=round(summary.elapsed_s, 3),
                                     backend_s=round(summary.backend_s, 3))
        manifest.throughput = {
            "items_per_s": round(summary.items_per_s, 3),
            "tokens_per_s": round(summary.tokens_per_s, 3),
            "backend_share": round(summary.backend_s / summary.elapsed_s, 4)
            if summary.elapsed_s else 0.0,
        }

    def checkpoint(self, *, exhausted: bool) -> None:
        """Write the lines of every whole item queued so far, then ``state.json``
        (after a failed write, nothing)."""
        if self.journal is not None:
            self.journal.commit({"exhausted": exhausted})

    def save_manifest(self, committed: int) -> None:
        """Write the manifest (atomically); ``committed`` items are named if the disk fails."""
        if self.write and self._manifest is not None:
            path = self.path / MANIFEST
            try:
                write_json_atomic(path, converter.unstructure(self.manifest))
            except OSError as exc:
                raise OutputWriteError(path, exc, committed=committed) from None

    def close(self) -> None:
        """Close the journal's files (setup failed before the run began)."""
        if self.journal is not None:
            self.journal.close()

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def run_manifest(plan: Plan, backend: dict[str, Any]) -> Manifest:
    """A new session's manifest; :meth:`RunDirectory.open` carries over the earlier ones."""
    recipe = plan.recipe
    return Manifest(run_dir=str(Path(recipe.output_dir)), recipe=plan.normalized(),
                    recipe_hash=plan.hash, plugins=plan.plugin_versions(), backend=backend,
                    seed=recipe.seed, instructgen_version=__version__, started_at=now_iso())
