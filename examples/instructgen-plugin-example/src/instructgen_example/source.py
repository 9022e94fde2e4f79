"""The ``tsv_captions`` source: one item per row of a tab-separated caption file."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path

import attrs
from instructgen import Source, SourceItem, UserError


def sample_file() -> Path:
    """The small TSV shipped with this package, used when ``path`` is not set."""
    return Path(str(resources.files("instructgen_example") / "data" / "photos.tsv"))


@attrs.frozen
class TsvCaptionsOptions:
    """Options of the ``tsv_captions`` source."""

    #: The TSV file, with a header row; empty: the sample shipped with the package.
    path: Path | None = None
    #: Column holding the caption.
    caption_column: str = "caption"
    #: Column holding the image file; its value is the item id, so ids survive reordering.
    image_column: str = "image_file"


class TsvCaptions(Source):
    """Streams the rows; rows it cannot use are skipped and counted by reason."""

    def __init__(self, options: TsvCaptionsOptions) -> None:
        self.options = options
        self.path = options.path or sample_file()
        if not self.path.is_file():
            raise UserError(f"source.path: file not found: {self.path}")
        self._skipped: Counter[str] = Counter()

    def __iter__(self) -> Iterator[SourceItem]:
        opts = self.options
        self._skipped.clear()
        with self.path.open(encoding="utf-8", newline="") as f:
            rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = next(rows, None)
            if header is None:
                return
            for column in (opts.caption_column, opts.image_column):
                if column not in header:
                    raise UserError(f"{self.path}:1: no column {column!r} "
                                    f"(columns: {', '.join(header)})")
            seen: set[str] = set()
            for lineno, row in enumerate(rows, 2):
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    self._skipped["wrong_column_count"] += 1
                    continue
                fields = dict(zip(header, row, strict=True))
                caption = fields.pop(opts.caption_column).strip()
                image = fields.pop(opts.image_column).strip()
                if not caption:
                    self._skipped["empty_caption"] += 1
                    continue
                item_id = image or f"line-{lineno}"
                if item_id in seen:  # a repeated image keeps its first caption only
                    self._skipped["duplicate_image"] += 1
                    continue
                seen.add(item_id)
                yield SourceItem(id=item_id, data={"caption": caption, "image_file": image},
                                 source="tsv_captions", extra=fields)

    def stats(self) -> Mapping[str, int]:
        """Skipped rows by reason; the runner puts them in the manifest."""
        return {f"skipped_{reason}": n for reason, n in sorted(self._skipped.items())}
