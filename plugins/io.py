"""Plain JSONL in and out: the ``jsonl`` source and the ``jsonl`` sink."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import attrs

from instructgen.errors import UserError
from instructgen.jsonl import iter_objects
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
        opts = self.options
        keep = set(opts.fields)
        for lineno, row in iter_objects(opts.path):
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
        obj = converter.unstructure(record) if self.options.format == "native" else flat_row(record)
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def flat_row(record: OutputRecord) -> dict[str, Any]:
    """The payload with the record id, item id and extras: one table row."""
    row = {"id": record.id, "item_id": record.item_id, **record.data}
    if record.extra:
        row["extra"] = dict(record.extra)
    return row


@attrs.frozen
class ParquetSinkOptions:
    """Options of the ``parquet`` sink."""

    #: File name inside the run directory.
    filename: str = "output.parquet"
    #: Rows per row group; bounds memory while writing.
    row_group_size: int = 10_000


class ParquetSink(Sink):
    """Converts the finished run's records to Parquet (needs ``pyarrow``).

    Written once the run finishes, from ``records.jsonl``; the JSONL journal
    stays the crash-safe source of truth.
    """

    def __init__(self, options: ParquetSinkOptions) -> None:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise UserError("sink.name: the parquet sink needs pyarrow: "
                            "pip install 'instructgen[parquet]'") from None
        self.options = options

    def finalize(self, run_dir: Path, records: Callable[[], Iterator[OutputRecord]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        target = run_dir / self.options.filename
        tmp = target.with_name(f".{target.name}.tmp")
        writer = None
        rows: list[dict[str, Any]] = []

        def flush() -> None:
            nonlocal writer
            table = pa.Table.from_pylist([_jsonify_nested(r) for r in rows])
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table.cast(writer.schema))
            rows.clear()

        for record in records():
            rows.append(flat_row(record))
            if len(rows) >= self.options.row_group_size:
                flush()
        if rows or writer is None:
            flush()
        assert writer is not None
        writer.close()
        tmp.replace(target)


def _jsonify_nested(row: dict[str, Any]) -> dict[str, Any]:
    # Nested values vary in shape from record to record; keep them as JSON text
    # so every row group shares one schema.
    return {k: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
            for k, v in row.items()}


@attrs.frozen
class HfDatasetSinkOptions:
    """Options of the ``hf_dataset`` sink."""

    #: Folder inside the run directory for ``Dataset.save_to_disk``.
    dirname: str = "hf_dataset"


class HfDatasetSink(Sink):
    """Saves the finished run as a Hugging Face ``datasets`` folder (``save_to_disk``)."""

    def __init__(self, options: HfDatasetSinkOptions) -> None:
        try:
            import datasets  # noqa: F401
        except ImportError:
            raise UserError("sink.name: the hf_dataset sink needs datasets: "
                            "pip install 'instructgen[hf-datasets]'") from None
        self.options = options

    def finalize(self, run_dir: Path, records: Callable[[], Iterator[OutputRecord]]) -> None:
        import datasets

        def rows() -> Iterator[dict[str, Any]]:
            for record in records():
                yield _jsonify_nested(flat_row(record))

        ds = datasets.Dataset.from_generator(rows)
        ds.save_to_disk(str(run_dir / self.options.dirname))


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
    yield SinkPlugin(
        name="parquet",
        description="Parquet file of the accepted records, written when the run finishes.",
        options=ParquetSinkOptions,
        factory=ParquetSink,
    )
    yield SinkPlugin(
        name="hf_dataset",
        description="Hugging Face datasets folder (save_to_disk), written when the run finishes.",
        options=HfDatasetSinkOptions,
        factory=HfDatasetSink,
    )
