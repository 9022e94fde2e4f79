"""Generic file input and output, by format.

- source ``jsonl`` and sink ``jsonl`` (:mod:`.jsonl`);
- sink ``csv`` (:mod:`.csv_sink`): AnyEdit's caption columns or flat rows;
- sinks ``parquet`` and ``hf_dataset`` (:mod:`.arrow`), written when the run finishes;
- sink ``hub`` (:mod:`.hub`), pushed once the manifest is final.

This module holds the hook implementations only.
"""

from __future__ import annotations

from collections.abc import Iterator

from instructgen.manager import hookimpl
from instructgen.plugin import SinkPlugin, SourcePlugin

from .arrow import HfDatasetSink, HfDatasetSinkOptions, ParquetSink, ParquetSinkOptions
from .csv_sink import CSV_LAYOUTS, CsvSink, CsvSinkOptions
from .hub import HubSink, HubSinkOptions
from .jsonl import JsonlSink, JsonlSinkOptions, JsonlSource, JsonlSourceOptions


@hookimpl
def instructgen_sources() -> Iterator[SourcePlugin]:
    yield SourcePlugin(
        name="jsonl",
        description="Rows of a JSONL file, streamed.",
        options=JsonlSourceOptions,
        factory=JsonlSource,
    )


def needs_nothing(_options: object) -> frozenset[str]:
    """Sinks that write whatever keys a record has (JSON lines, flat tables)."""
    return frozenset()


def csv_needs(options: CsvSinkOptions) -> frozenset[str]:
    """A fixed layout's columns (a pair's two are read from ``concepts``); auto and flat
    take any record."""
    if options.layout in ("auto", "flat"):
        return frozenset()
    columns = set(CSV_LAYOUTS[options.layout])
    if options.layout == "concept_pair":
        columns = columns - {"concept1", "concept2"} | {"concepts"}
    return frozenset(columns)


@hookimpl
def instructgen_sinks() -> Iterator[SinkPlugin]:
    yield SinkPlugin(
        name="jsonl",
        description="One JSON object per accepted record, appended crash-safely.",
        options=JsonlSinkOptions,
        factory=JsonlSink,
        needs=needs_nothing,
    )
    yield SinkPlugin(
        name="csv",
        description="CSV rows (AnyEdit's caption columns or flat), appended crash-safely.",
        options=CsvSinkOptions,
        factory=CsvSink,
        needs=csv_needs,
    )
    yield SinkPlugin(
        name="parquet",
        description="Parquet file of the accepted records, written when the run finishes.",
        options=ParquetSinkOptions,
        factory=ParquetSink,
        needs=needs_nothing,
    )
    yield SinkPlugin(
        name="hub",
        description="Publish the finished run to the Hugging Face Hub: Parquet, card, charts.",
        options=HubSinkOptions,
        factory=HubSink,
        needs=needs_nothing,
    )
    yield SinkPlugin(
        name="hf_dataset",
        description="Hugging Face datasets folder (save_to_disk), written when the run finishes.",
        options=HfDatasetSinkOptions,
        factory=HfDatasetSink,
        needs=needs_nothing,
    )
