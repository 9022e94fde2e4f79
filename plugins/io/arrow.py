"""Sinks that convert the finished run through Arrow: ``parquet`` and ``hf_dataset``.

Both run once, when the run finishes, from ``records.jsonl``, which stays the
crash-safe source of truth; the table is written by :func:`instructgen.tables.write_table`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import attrs

from instructgen.errors import UserError
from instructgen.plugin import Sink
from instructgen.records import OutputRecord
from instructgen.tables import write_table


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
