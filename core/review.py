"""The object the ``instructgen_review_record`` hook receives."""

from __future__ import annotations

from typing import Any

import attrs

from .records import OutputRecord


class RecordReview:
    """A record on its way to the sink, which hooks may change or veto."""

    __slots__ = ("record", "veto_reason", "vetoed_by")

    def __init__(self, record: OutputRecord) -> None:
        self.record = record
        self.veto_reason: str | None = None
        self.vetoed_by: str | None = None

    def replace(self, **changes: Any) -> None:
        """Swap in a changed record (``attrs.evolve`` semantics)."""
        self.record = attrs.evolve(self.record, **changes)

    def veto(self, reason: str, by: str = "review_record") -> None:
        """Drop the record; the reason goes to the rejects file."""
        if self.veto_reason is None:
            self.veto_reason, self.vetoed_by = reason, by

    @property
    def vetoed(self) -> bool:
        return self.veto_reason is not None
