"""Plain JSONL in and out: the ``jsonl`` source and the ``jsonl`` sink."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import attrs

from instructgen.errors import UserError
from instructgen.manager import hookimpl
from instructgen.plugin import Sink, SinkPlugin, Source, SourcePlugin
from instructgen.records import OutputRecord, SourceItem, converter


@attrs.frozen
class JsonlSourceOptions:
    """Options of the ``jsonl`` source."""

    #: The JSONL file, one JSON object per line.
    path: Path
    #: Field holding a stable item id; default: the line number.
    id_field: str | None = None
    #: Fields generators read; the rest are kept under ``extra``. Empty: all.
    fields: list[str] = attrs.field(factory=list)


class JsonlSource(Source):
    """Streams a JSONL file line by line, so memory stays flat for any size."""

    def __init__(self, options: JsonlSourceOptions) -> None:
        self.options = options
        if not options.path.is_file():
            raise UserError(f"source.path: file not found: {options.path}")

    def __iter__(self) -> Iterator[SourceItem]:
        opts = self.options
        keep = set(opts.fields)
        with opts.path.open("rb") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(f"{opts.path}:{lineno}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise UserError(f"{opts.path}:{lineno}: expected a JSON object per line")
                if opts.id_field:
                    if opts.id_field not in row:
                        raise UserError(f"{opts.path}:{lineno}: missing id field {opts.id_field!r}")
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
        if self.options.format == "native":
            obj = converter.unstructure(record)
        else:
            obj = {"id": record.id, **record.data}
            if record.extra:
                obj["extra"] = dict(record.extra)
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


@hookimpl
def instructgen_sources() -> Iterator[SourcePlugin]:
    yield SourcePlugin(
        name="jsonl",
        description="Rows of a JSONL file, streamed.",
        options=JsonlSourceOptions,
        factory=JsonlSource,
    )


@hookimpl
def instructgen_sinks() -> Iterator[SinkPlugin]:
    yield SinkPlugin(
        name="jsonl",
        description="One JSON object per accepted record, appended crash-safely.",
        options=JsonlSinkOptions,
        factory=JsonlSink,
    )
