"""The ``captions`` source: any caption table, LAION-style or home-made.

Formats: JSONL, CSV/TSV and Parquet stream row by row (Parquet in record
batches, through pyarrow); a JSON file is one document and is read whole. The
caption column and the image path or URL column are options, because their
names differ from one dataset to the next. For the streamed formats,
``on_bad_row = "skip"`` gets past broken rows (counted and logged); a file
whose header lacks a named column still stops, since every row would be bad.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from instructgen.jsonl import BadRows
from instructgen.plugin import RunInfo, Source
from instructgen.records import SourceItem

from .shape import (
    IMAGE_COLUMNS,
    URL_COLUMNS,
    DatasetError,
    expect_list,
    expect_object,
    first_key,
    image_fields,
    kind_of,
    load_json,
    require_file,
    shape_error,
)

_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv",
             ".tsv": "tsv", ".parquet": "parquet"}


@attrs.frozen
class CaptionsOptions:
    """Options of the ``captions`` source."""

    #: The table: ``.jsonl``, ``.json``, ``.csv``, ``.tsv`` or ``.parquet``.
    path: Path
    #: ``auto`` goes by the file suffix.
    format: Literal["auto", "jsonl", "json", "csv", "tsv", "parquet"] = "auto"
    #: Column holding the caption (LAION uses ``TEXT`` or ``caption``).
    caption_column: str = "caption"
    #: Column holding the image path; default: the first of image_file, image,
    #: file_name, filename, image_path, path that the table has.
    image_column: str | None = None
    #: Column holding the image URL; default: the first of url, URL, image_url, img_url.
    url_column: str | None = None
    #: Column holding a stable row id; default: the row number (from 1).
    id_column: str | None = None
    #: For a JSON object, the key whose value is the list of rows.
    json_key: str | None = None
    #: A broken row of a JSONL, CSV/TSV or Parquet table (not JSON, not UTF-8,
    #: a missing column, too many fields): ``stop`` there, or ``skip`` it
    #: (counted in the manifest, each logged with its line or row).
    on_bad_row: Literal["stop", "skip"] = "stop"


class CaptionsSource(Source):
    """Yields ``caption`` plus ``image_file``/``url``; other columns go to ``extra``."""

    def __init__(self, options: CaptionsOptions) -> None:
        self.options = options
        require_file(options.path)
        fmt: str = options.format
        if fmt == "auto":
            fmt = _SUFFIXES.get(options.path.suffix.lower(), "")
            if not fmt:
                raise DatasetError(f"source.format: cannot tell the format of {options.path} "
                                   f"from its suffix; set format to one of jsonl, json, csv, "
                                   f"tsv, parquet")
        self.format = fmt
        self.bad_rows = BadRows(options.on_bad_row, options.path, error=DatasetError)
        self._rows_json: list[Any] | None = None
        if fmt == "json":  # read (and check) up front: it is one document anyway
            doc = load_json(options.path)
            where = ""
            if options.json_key is not None:
                doc = expect_object(options.path, doc, "")
                if options.json_key not in doc:
                    raise shape_error(options.path, options.json_key, "missing")
                where = options.json_key
                doc = doc[options.json_key]
            self._rows_json = expect_list(options.path, doc, where)
            self._json_where = where
        if fmt == "parquet":
            self._parquet_file()  # fail early when pyarrow is missing or the file is bad

    def total(self) -> int | None:
        if self._rows_json is not None:
            return len(self._rows_json)
        if self.format == "parquet":
            return self._parquet_file().metadata.num_rows
        return None

    def setup(self, run: RunInfo) -> None:
        self.bad_rows.log = run.log

    def stats(self) -> Mapping[str, int]:
        return self.bad_rows.stats() if self.format != "json" else {}

    def __iter__(self) -> Iterator[SourceItem]:
        self.bad_rows.reset()
        skip = self.options.on_bad_row == "skip" and self.format != "json"
        rows = {"jsonl": self._jsonl, "json": self._json, "csv": self._csv, "tsv": self._csv,
                "parquet": self._parquet}[self.format]()
        for n, where, row in rows:
            try:
                item = self._item(n, where, row)
            except DatasetError as exc:
                if not skip:
                    raise
                self.bad_rows.skip(where, str(exc))
                continue
            yield item

    def _bad(self, where: str, problem: str) -> None:
        """A broken row: the run stops here, or (``skip``) it is counted and logged."""
        self.bad_rows(where, problem)

    # -- rows -----------------------------------------------------------------------------

    def _item(self, n: int, where: str, row: Mapping[str, Any]) -> SourceItem:
        opts, path = self.options, self.options.path
        if opts.caption_column not in row:
            raise shape_error(path, _at(where, opts.caption_column),
                              f"missing (columns: {', '.join(map(str, row)) or 'none'}); "
                              f"set caption_column")
        if row[opts.caption_column] is None:
            raise shape_error(path, _at(where, opts.caption_column), "null (no caption)")
        image_col = opts.image_column or first_key(row, IMAGE_COLUMNS)
        url_col = opts.url_column or first_key(row, URL_COLUMNS)
        for col, option in ((opts.image_column, "image_column"), (opts.url_column, "url_column"),
                            (opts.id_column, "id_column")):
            if col is not None and col not in row:
                raise shape_error(path, _at(where, col), f"missing (named by {option})")
        item_id = str(row[opts.id_column]) if opts.id_column else str(n)
        data = {"caption": row[opts.caption_column],
                **image_fields(row.get(image_col) if image_col else None,
                               row.get(url_col) if url_col else None)}
        used = {opts.caption_column, image_col, url_col, opts.id_column}
        extra = {k: v for k, v in row.items() if k not in used}
        return SourceItem(id=item_id, data=data, source=str(path), extra=extra)

    def _jsonl(self) -> Iterator[tuple[int, str, Mapping[str, Any]]]:
        path = self.options.path
        with path.open("rb") as f:
            n = 0
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                n += 1
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    self._bad(f"line {lineno}", f"not valid JSON ({exc.msg})")
                    continue
                except UnicodeDecodeError:
                    self._bad(f"line {lineno}", "not valid UTF-8")
                    continue
                if not isinstance(row, Mapping):
                    self._bad(f"line {lineno}", f"expected a JSON object, got {kind_of(row)}")
                    continue
                yield n, f"line {lineno}", row

    def _json(self) -> Iterator[tuple[int, str, Mapping[str, Any]]]:
        path = self.options.path
        assert self._rows_json is not None
        for i, row in enumerate(self._rows_json):
            where = f"{self._json_where}[{i}]"
            yield i + 1, where, expect_object(path, row, where)

    def _csv(self) -> Iterator[tuple[int, str, Mapping[str, Any]]]:
        delimiter = "\t" if self.format == "tsv" else ","
        opts, path = self.options, self.options.path
        # surrogateescape: a row with bytes that are not UTF-8 is one bad row, not a crash.
        with path.open(newline="", encoding="utf-8", errors="surrogateescape") as f:
            reader = csv.DictReader(f, delimiter=delimiter)
            header = reader.fieldnames or []
            if opts.on_bad_row == "skip" and header and opts.caption_column not in header:
                # Every row would be bad: that is a wrong option, not a broken row.
                raise shape_error(path, f"header, column {opts.caption_column!r}",
                                  f"missing (columns: {', '.join(header)}); set caption_column")
            n = 0
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    n += 1
                    self._bad(f"row {n} (line {reader.line_num})", f"not valid CSV ({exc})")
                    continue
                n += 1
                where = f"row {n}"
                if None in row:
                    self._bad(f"{where} (line {reader.line_num})",
                              f"{len(header) + len(row[None])} fields, the header has "
                              f"{len(header)} (an unquoted {delimiter!r} in a value?)")
                    continue
                if any(_not_utf8(v) for v in row.values() if isinstance(v, str)):
                    self._bad(f"{where} (line {reader.line_num})", "not valid UTF-8")
                    continue
                # Short rows give None; an absent value is absent, not the text "None".
                yield n, where, row

    def _parquet_file(self) -> Any:
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise DatasetError("source.format: reading Parquet needs pyarrow "
                               "(pip install 'instructgen[parquet]')") from None
        try:
            return pq.ParquetFile(self.options.path)
        except Exception as exc:  # pyarrow raises its own error types
            raise DatasetError(f"{self.options.path}: not a Parquet file ({exc})") from None

    def _parquet(self) -> Iterator[tuple[int, str, Mapping[str, Any]]]:
        n = 0
        file, opts = self._parquet_file(), self.options
        names = file.schema_arrow.names
        if opts.on_bad_row == "skip" and opts.caption_column not in names:
            raise shape_error(opts.path, f"schema, column {opts.caption_column!r}",
                              f"missing (columns: {', '.join(names)}); set caption_column")
        for batch in file.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                n += 1
                yield n, f"row {n}", {k: _plain(v) for k, v in row.items()}


def _not_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _at(where: str, column: str) -> str:
    """``[3].caption`` for JSON paths, ``row 3, column 'caption'`` for lines and rows."""
    if where.startswith(("line ", "row ")):
        return f"{where}, column {column!r}"
    return f"{where}.{column}"


def _plain(value: Any) -> Any:
    """Parquet values as JSON can carry them (timestamps and bytes become strings)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
