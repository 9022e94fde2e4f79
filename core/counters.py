"""The counts of a run: one class for the summary, the manifest, the checkpoint and Ray.

The scheduler counts backend work into it, the committer counts items and
records, a Ray actor sends its block's counts back through the converter and
the driver adds them up. Every consumer reads the field list off the class, so
a new counter reaches the manifest, ``state.json`` and Ray without being named
again.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .canonical import converter
from .rundir import RunOutcome, RunStatus

#: Field metadata: the count is a total over every session of a run directory
#: (``state.json`` carries it across a resume, as the records files carry the items).
_CARRIED = {"carried": True}
#: Field metadata: not a count, so not in the manifest's ``counts`` (it has its own place).
_NOT_A_COUNT = {"count": False}


@attrs.define
class Counters:
    """What a run counted, in the order the manifest lists them.

    The item-side counts (``items`` to ``rejected_items``) are carried across a
    resume; the rest count this session's backend work, as they always have.
    """

    items: int = attrs.field(default=0, metadata=_CARRIED)
    accepted: int = attrs.field(default=0, metadata=_CARRIED)
    rejected: int = attrs.field(default=0, metadata=_CARRIED)
    rejected_items: int = attrs.field(default=0, metadata=_CARRIED)
    backend_calls: int = 0
    requests: int = 0
    cache_hits: int = 0
    invalid_answers: int = 0
    prompt_tokens: int = 0
    #: Of ``prompt_tokens``, those the backend decoded (the rest reused cached prefixes).
    prompt_tokens_decoded: int = 0
    completion_tokens: int = 0
    #: Seconds spent in backend calls (the manifest keeps it per session).
    backend_s: float = attrs.field(default=0.0, metadata=_NOT_A_COUNT)

    def add(self, other: Counters) -> None:
        """Add ``other``'s counts to these (a Ray block's, say)."""
        for field in attrs.fields(Counters):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    def counts(self) -> dict[str, int]:
        """The manifest's ``counts``: every count, through the converter."""
        data = converter.unstructure(self, Counters)
        return {f.name: data[f.name] for f in attrs.fields(Counters)
                if f.metadata.get("count", True)}

    def carried(self) -> dict[str, int]:
        """The counts a resume starts from (saved in ``state.json``)."""
        data = converter.unstructure(self, Counters)
        return {f.name: data[f.name] for f in attrs.fields(Counters) if f.metadata.get("carried")}

    def restore(self, saved: Mapping[str, Any]) -> None:
        """Start from the carried counts a checkpoint saved (missing ones are 0)."""
        for field in attrs.fields(Counters):
            if field.metadata.get("carried"):
                setattr(self, field.name, int(saved.get(field.name, 0)))


def to_blob(counters: Counters) -> dict[str, Any]:
    """``counters`` as plain data, for a Ray actor's reply."""
    blob: dict[str, Any] = converter.unstructure(counters, Counters)
    return blob


def from_blob(blob: Mapping[str, Any]) -> Counters:
    """The counters a Ray actor sent."""
    return converter.structure(dict(blob), Counters)


@attrs.define(kw_only=True)
class RunSummary(Counters):
    """Counts of a run, returned by :func:`instructgen.run`: its counters and how it ended.

    The runner hands this object to the engine as its counters, so backend work
    is added up here as it happens; the committer counts items into it. How the
    run ended is its run directory's :class:`~instructgen.rundir.RunOutcome`,
    which ``status`` and ``message`` read.
    """

    run_dir: Path | None
    elapsed_s: float = 0.0
    rejection_reasons: dict[str, int] = attrs.field(factory=dict)
    outcome: RunOutcome = attrs.field(factory=RunOutcome)

    @property
    def status(self) -> RunStatus:
        return self.outcome.status

    @property
    def message(self) -> str:
        return self.outcome.message

    @property
    def items_per_s(self) -> float:
        return self.items / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.elapsed_s if self.elapsed_s else 0.0
