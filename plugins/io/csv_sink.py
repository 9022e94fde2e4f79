"""The ``csv`` sink: AnyEdit's caption columns, or flat rows, appended crash-safely."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Literal

import attrs

from instructgen.plugin import Sink
from instructgen.records import OutputRecord

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
        self.layout: str = options.layout

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
