"""Plain JSONL in and out: the ``jsonl`` source and the ``jsonl`` sink."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from instructgen.context import RunInfo
from instructgen.errors import UserError
from instructgen.jsonl import iter_objects
from instructgen.logs import quiet_logger
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
    #: A line that is not a JSON object, or lacks ``id_field``: ``stop`` the run
    #: there, or ``skip`` it (counted in the manifest, each logged with its line).
    on_bad_row: Literal["stop", "skip"] = "stop"


OnBadRow = Literal["stop", "skip"]


class BadRows:
    """The ``on_bad_row`` policy of a streaming source: stop, or count, log and skip.

    Large scraped dumps have a few broken lines; ``skip`` lets a run get past
    them without hiding them: each is logged with its line and the total goes
    to the manifest's ``source_stats`` as ``bad_rows_skipped``.
    """

    def __init__(self, policy: OnBadRow, path: Path, log: Any = None,
                 error: type[UserError] = UserError) -> None:
        self.policy, self.path, self.error = policy, path, error
        self.log = log
        self.skipped = 0

    def reset(self) -> None:
        """Start a new pass over the file (each pass counts from zero)."""
        self.skipped = 0

    def __call__(self, where: str | int, problem: str) -> None:
        """Handle one bad row at ``where`` (a line number or ``row N``)."""
        if self.policy == "stop":
            at = f"{self.path}:{where}" if isinstance(where, int) else f"{self.path}: {where}"
            raise self.error(f"{at}: {problem} (set source.on_bad_row = \"skip\" to skip "
                             f"bad rows)")
        self.skip(where, problem)

    def skip(self, where: str | int, problem: str) -> None:
        """Count and log one skipped row."""
        self.skipped += 1
        if self.log is None:
            self.log = quiet_logger()
        self.log.warning("bad_row_skipped", file=str(self.path), at=str(where),
                         problem=problem)

    def stats(self) -> Mapping[str, int]:
        return {"bad_rows_skipped": self.skipped} if self.policy == "skip" else {}


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


def flat_row(record: OutputRecord) -> dict[str, Any]:
    """The payload with the record id, item id and extras: one table row."""
    row = {"id": record.id, "item_id": record.item_id, **record.data}
    if record.extra:
        row["extra"] = dict(record.extra)
    return row


#: AnyEdit's CSV columns for the caption families, by layout name.
CSV_LAYOUTS: dict[str, tuple[str, ...]] = {
    "concept": ("concept", "caption"),
    "concept_background": ("concept", "background", "caption"),
    "concept_pair": ("concept1", "concept2", "caption"),
}
#: The layout ``auto`` picks for each caption generator; any other gets ``flat``.
CSV_AUTO_LAYOUT = {"c2cap": "concept", "cb2cap": "concept_background", "cc2cap": "concept_pair"}


def _one_char(_inst: Any, _attr: Any, value: str) -> None:
    if len(value) != 1 or value in "\r\n\"":
        raise ValueError("delimiter must be one character (not a quote or line break)")


@attrs.frozen
class CsvSinkOptions:
    """Options of the ``csv`` sink."""

    #: ``auto``: AnyEdit's columns for c2cap, cb2cap and cc2cap records, ``flat``
    #: otherwise. ``concept``: concept,caption; ``concept_background``:
    #: concept,background,caption; ``concept_pair``: concept1,concept2,caption;
    #: ``flat``: id, item_id, the first record's fields, then ``extra`` (JSON).
    layout: Literal["auto", "concept", "concept_background", "concept_pair", "flat"] = "auto"
    #: File name inside the run directory.
    filename: str = "output.csv"
    #: Field separator (use "\t" for TSV).
    delimiter: str = attrs.field(default=",", validator=_one_char)


class CsvSink(Sink):
    """Appends one CSV row per accepted record, crash-safe like the JSONL sink.

    The header is the first line of the file; on resume it is read back, so
    the columns (and every byte after them) are what an uninterrupted run
    writes. In the flat layout the first record fixes the columns; a field a
    later record adds goes into its ``extra`` JSON, so nothing is dropped.
    """

    def __init__(self, options: CsvSinkOptions) -> None:
        self.options = options
        self.filename = options.filename
        self.columns: list[str] | None = None
        self.layout = options.layout

    def open(self, path: Path) -> None:
        """Read the header a resumed file already has; an empty file gets one later."""
        self.columns = None
        if path.exists() and path.stat().st_size:
            with path.open(newline="", encoding="utf-8") as f:
                header = next(csv.reader(f, delimiter=self.options.delimiter), [])
            self.columns = header
            layouts = {cols: name for name, cols in CSV_LAYOUTS.items()}
            self.layout = layouts.get(tuple(header), "flat")

    def encode(self, record: OutputRecord) -> str:
        first = self.columns is None
        if first:
            self.columns = self._columns_for(record)
        assert self.columns is not None
        row = self._row(record, self.columns)
        lines = [self.columns, row] if first else [row]
        buf = io.StringIO()
        csv.writer(buf, delimiter=self.options.delimiter, lineterminator="\n").writerows(lines)
        return buf.getvalue()[:-1]  # the runner adds the line end

    def _columns_for(self, record: OutputRecord) -> list[str]:
        if self.layout == "auto":
            self.layout = CSV_AUTO_LAYOUT.get(record.generator, "flat")
        if self.layout != "flat":
            return list(CSV_LAYOUTS[self.layout])
        return ["id", "item_id", *(k for k in record.data if k not in ("id", "item_id", "extra")),
                "extra"]

    def _row(self, record: OutputRecord, columns: list[str]) -> list[str]:
        data = dict(record.data)
        if self.layout == "concept_pair":
            pair = data.get("concepts")
            if isinstance(pair, list) and len(pair) == 2:
                data.setdefault("concept1", pair[0])
                data.setdefault("concept2", pair[1])
        if self.layout != "flat":
            return [_cell(data.get(c)) for c in columns]
        known = {"id": record.id, "item_id": record.item_id}
        rest = {k: v for k, v in data.items() if k not in columns}
        extra = {**record.extra, **rest}
        cells = []
        for c in columns:
            if c == "extra":
                cells.append(json.dumps(extra, ensure_ascii=False) if extra else "")
            else:
                cells.append(_cell(known[c] if c in known else data.get(c)))
        return cells


def _cell(value: Any) -> str:
    """Text as is, None as empty, anything else as JSON (numbers, true/false, lists)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


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
        _need("pyarrow", "the parquet sink", "parquet")
        self.options = options

    def finalize(self, run_dir: Path, records: Callable[[], Iterator[OutputRecord]]) -> None:
        target = run_dir / self.options.filename
        tmp = target.with_name(f".{target.name}.tmp")
        write_table(tmp, records, "parquet", self.options.row_group_size)
        tmp.replace(target)


def _need(module: str, what: str, extra: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise UserError(f"sink.name: {what} needs {module}: "
                        f"pip install 'instructgen[{extra}]'") from None


def _jsonify_nested(row: dict[str, Any]) -> dict[str, Any]:
    # Nested values vary in shape from record to record; keep them as JSON text
    # so every row group shares one schema.
    return {k: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
            for k, v in row.items()}


def _kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def table_schema(rows: Iterator[dict[str, Any]]) -> tuple[Any, set[str]]:
    """One Arrow schema for all rows, and the columns whose types clash.

    Scanned over every row first, so a column that is null (or an int) in the
    first thousand rows and text later still gets one type; ints mixed with
    floats become floats; other clashes are written as JSON text.
    """
    import pyarrow as pa

    kinds: dict[str, set[str]] = {}
    for row in rows:
        for key, value in row.items():
            seen = kinds.setdefault(key, set())
            kind = _kind(value)
            if kind is not None:
                seen.add(kind)
    arrow = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "str": pa.string()}
    fields, as_json = [], set()
    for key, seen in kinds.items():
        if seen == {"int", "float"}:
            seen = {"float"}
        if len(seen) > 1:
            as_json.add(key)
            seen = {"str"}
        fields.append(pa.field(key, arrow[next(iter(seen))] if seen else pa.null()))
    return pa.schema(fields), as_json


def write_table(path: Path, records: Callable[[], Iterator[OutputRecord]],
                fmt: Literal["parquet", "arrow"], row_group_size: int = 10_000) -> int:
    """Write the records' flat rows as Parquet or an Arrow IPC stream; returns the row count.

    Two passes over the records (one for the schema, one to write), holding
    one row group in memory at a time, so memory stays flat for any run size.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    def rows() -> Iterator[dict[str, Any]]:
        for record in records():
            yield _jsonify_nested(flat_row(record))

    schema, as_json = table_schema(rows())
    if fmt == "parquet":
        writer: Any = pq.ParquetWriter(path, schema)
    else:
        writer = pa.ipc.new_stream(str(path), schema)
    count = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        for row in batch:
            for key in as_json & row.keys():
                if row[key] is not None:
                    row[key] = json.dumps(row[key], ensure_ascii=False)
        writer.write_table(pa.Table.from_pylist(batch, schema=schema))
        batch.clear()

    try:
        for row in rows():
            batch.append(row)
            count += 1
            if len(batch) >= row_group_size:
                flush()
        if batch or count == 0:
            flush()
    finally:
        writer.close()
    return count


@attrs.frozen
class HfDatasetSinkOptions:
    """Options of the ``hf_dataset`` sink."""

    #: Folder inside the run directory for ``Dataset.save_to_disk``.
    dirname: str = "hf_dataset"
    #: Rows per Arrow record batch while converting; bounds memory.
    row_group_size: int = 10_000


class HfDatasetSink(Sink):
    """Saves the finished run as a Hugging Face ``datasets`` folder (``save_to_disk``).

    The records go to an Arrow stream file first, which ``datasets`` memory-maps;
    nothing of the run (no generator closure) is pickled or fingerprinted.
    """

    def __init__(self, options: HfDatasetSinkOptions) -> None:
        _need("datasets", "the hf_dataset sink", "hf-datasets")
        _need("pyarrow", "the hf_dataset sink", "hf-datasets")
        self.options = options

    def finalize(self, run_dir: Path, records: Callable[[], Iterator[OutputRecord]]) -> None:
        import shutil

        import datasets

        target = run_dir / self.options.dirname
        work = run_dir / f".{self.options.dirname}.tmp"
        if work.exists():
            shutil.rmtree(work)
        work.mkdir()
        try:
            stream = work / "records.arrow"
            write_table(stream, records, "arrow", self.options.row_group_size)
            ds = datasets.Dataset.from_file(str(stream))
            quiet = datasets.is_progress_bar_enabled()
            if quiet:  # the run has its own progress report; no second bar on stderr
                datasets.disable_progress_bars()
            try:
                ds.save_to_disk(str(work / "dataset"))
            finally:
                if quiet:
                    datasets.enable_progress_bars()
            del ds
            if target.exists():
                shutil.rmtree(target)
            (work / "dataset").replace(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)


@attrs.frozen
class HubSinkOptions:
    """Options of the ``hub`` sink."""

    #: Dataset repository on the Hugging Face Hub, ``owner/name`` (created if needed).
    repo_id: str
    #: Create the repository as private.
    private: bool = False
    #: Draw and upload the report's charts (needs matplotlib).
    charts: bool = True


class HubSink(Sink):
    """Publishes the finished run like ``instructgen push`` (needs ``instructgen[hub]``).

    The push happens once the manifest is final (at the run's end, see
    :func:`instructgen_run_end`), so the card shows the finished run. If the
    push fails, the run directory is complete; ``instructgen push`` retries.
    """

    def __init__(self, options: HubSinkOptions) -> None:
        from instructgen.hub import check_repo_id, hub_module

        check_repo_id(options.repo_id, "sink.repo_id")
        hub_module()
        self.options = options


@hookimpl
def instructgen_run_end(manifest: Any, summary: Any) -> None:
    """Push a finished run whose recipe names the ``hub`` sink."""
    sink = (manifest.recipe or {}).get("sink") or {}
    if (sink.get("name") != "hub" or summary.status != "finished"
            or summary.run_dir is None):  # preview writes nothing and pushes nothing
        return
    from instructgen.hub import PushError, push_run

    try:
        result = push_run(summary.run_dir, sink["repo_id"], private=bool(sink.get("private")),
                          charts=bool(sink.get("charts", True)))
    except PushError as exc:
        raise PushError(f"{exc} (the run is complete; retry with: instructgen push "
                        f"{summary.run_dir} {sink['repo_id']})") from None
    summary.message = f"pushed to {result.repo_url}"


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
        name="csv",
        description="CSV rows (AnyEdit's caption columns or flat), appended crash-safely.",
        options=CsvSinkOptions,
        factory=CsvSink,
    )
    yield SinkPlugin(
        name="parquet",
        description="Parquet file of the accepted records, written when the run finishes.",
        options=ParquetSinkOptions,
        factory=ParquetSink,
    )
    yield SinkPlugin(
        name="hub",
        description="Publish the finished run to the Hugging Face Hub: Parquet, card, charts.",
        options=HubSinkOptions,
        factory=HubSink,
    )
    yield SinkPlugin(
        name="hf_dataset",
        description="Hugging Face datasets folder (save_to_disk), written when the run finishes.",
        options=HfDatasetSinkOptions,
        factory=HfDatasetSink,
    )
