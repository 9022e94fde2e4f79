"""A run's records as one flat table: the rows, and Parquet or Arrow files of them.

Shared by the ``jsonl`` (flat), ``parquet`` and ``hf_dataset`` sinks and by
``instructgen push``, so a pushed dataset has the same columns as a local one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from .records import OutputRecord


def flat_row(record: OutputRecord) -> dict[str, Any]:
    """The payload with the record id, item id and extras: one table row."""
    row = {"id": record.id, "item_id": record.item_id, **record.data}
    if record.extra:
        row["extra"] = dict(record.extra)
    return row


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
