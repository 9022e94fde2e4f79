"""Near-duplicate quadruples: what they share, and the ``implicit_dedup`` post-processor.

The generator drops repeats within one conversation; this post-processor drops
repeats across seeds, over the whole run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from instructgen.errors import Reject
from instructgen.plugin import PostProcessor
from instructgen.records import OutputRecord
from instructgen.text import NearDuplicateIndex


def dedup_text(quad: Mapping[str, Any]) -> str:
    """What two quadruples must share to be near-duplicates: the instruction and the photo."""
    return f"{quad.get('instruction', '')} {quad.get('original_caption', '')}"


@attrs.frozen
class ImplicitDedupOptions:
    """Options of the ``implicit_dedup`` post-processor."""

    #: Similarity (0-1) of instruction + original caption at which a record is dropped.
    threshold: float = attrs.field(default=0.9, validator=[attrs.validators.gt(0.0),
                                                           attrs.validators.le(1.0)])


class ImplicitDedup(PostProcessor):
    """Drops quadruples that repeat an earlier record of the run, whichever seed made it."""

    def __init__(self, options: ImplicitDedupOptions) -> None:
        self.options = options
        self.index = NearDuplicateIndex(options.threshold)

    def process(self, record: OutputRecord) -> OutputRecord:
        text = dedup_text(record.data)
        twin = self.index.match(text)
        if twin is not None:
            raise Reject("near_duplicate", f"similar ({twin[1]:.2f}) to an earlier record: "
                                           f"{twin[0]!r}")
        self.index.add(text)
        return record

    def restore(self, accepted: Iterable[OutputRecord]) -> None:
        for record in accepted:
            self.index.add(dedup_text(record.data))
