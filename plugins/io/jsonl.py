"""Plain JSONL in and out: the ``jsonl`` source and the ``jsonl`` sink."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

import attrs

from instructgen.canonical import converter
from instructgen.errors import UserError
from instructgen.jsonl import BadRows, iter_objects
from instructgen.plugin import RunInfo, Sink, Source
from instructgen.records import OutputRecord, SourceItem
from instructgen.tables import flat_row


@attrs.frozen
class JsonlSourceOptions:
    """Options of the ``jsonl`` source."""

    #: The JSONL file, one JSON object per line.
    path: Path
    #: Field holding a stable item id; default: the line number.
    id_field: str | None = None
    #: Fields generators read; the rest are kept under ``extra``. Empty: all.
    fields: list[str] = attrs.field(factory=list)
    #: A line that is not a JSON object, or lacks ``id_field``: ``stop`` the run
    #: there, or ``skip`` it (counted in the manifest, each logged with its line).
    on_bad_row: Literal["stop", "skip"] = "stop"


class JsonlSource(Source):
    """Streams a JSONL file line by line, so memory stays flat for any size."""

    def __init__(self, options: JsonlSourceOptions) -> None:
        self.options = options
        if not options.path.is_file():
            raise UserError(f"source.path: file not found: {options.path}")
        self.bad_rows = BadRows(options.on_bad_row, options.path)

    def setup(self, run: RunInfo) -> None:
        self.bad_rows.log = run.log

    def stats(self) -> Mapping[str, int]:
        return self.bad_rows.stats()

    def total(self) -> int | None:
        """Non-empty lines, counted in binary chunks: cheap next to generation."""
        count = 0
        last = b"\n"
        with self.options.path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                count += chunk.count(b"\n")
                last = chunk[-1:]
        return count + (last != b"\n")

    def __iter__(self) -> Iterator[SourceItem]:
        opts, bad = self.options, self.bad_rows
        keep = set(opts.fields)
        bad.reset()
        for lineno, row in iter_objects(opts.path, bad):
            if opts.id_field:
                if opts.id_field not in row:
                    bad(lineno, f"missing id field {opts.id_field!r}")
                    continue
                item_id = str(row[opts.id_field])
            else:
                item_id = str(lineno)
            if keep:
                data = {k: v for k, v in row.items() if k in keep}
                extra = {k: v for k, v in row.items() if k not in keep}
            else:
                data, extra = row, {}
            yield SourceItem(id=item_id, data=data, source=str(opts.path), extra=extra)


@attrs.frozen
class JsonlSinkOptions:
    """Options of the ``jsonl`` sink."""

    #: ``native``: full records; ``flat``: the payload with ``id`` and extras.
    format: Literal["native", "flat"] = "flat"
    #: File name inside the run directory.
    filename: str = "output.jsonl"


class JsonlSink(Sink):
    """Appends one JSON object per accepted record; the runner makes it crash-safe."""

    def __init__(self, options: JsonlSinkOptions) -> None:
        self.options = options
        self.filename = options.filename

    def encode(self, record: OutputRecord) -> str:
        obj = converter.unstructure(record) if self.options.format == "native" else flat_row(record)
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
