"""The run directory: manifest, journals and the state that makes resume exact.

Layout::

    manifest.json   recipe, hashes, plugin versions, backend, times, counts
    records.jsonl   accepted records (native form, with provenance)
    rejects.jsonl   rejected items and records, with reason and raw model text
    <sink file>     e.g. output.jsonl, when a line sink is configured
    state.json      items committed so far and the byte length of each file

Items are committed in source order. ``state.json`` is replaced atomically
after the lines it covers are flushed, so after a crash every file is cut back
to the length the state records: no partial line, no duplicate, nothing lost.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import attrs

from .errors import UserError
from .records import OutputRecord, converter

MANIFEST = "manifest.json"
STATE = "state.json"
RECORDS = "records.jsonl"
REJECTS = "rejects.jsonl"
FRESH_FLAG = "--fresh"


@attrs.define
class Manifest:
    """What a run was, for humans, reports and resume checks."""

    run_dir: str
    recipe: dict[str, Any]
    recipe_hash: str
    plugins: dict[str, str]
    backend: dict[str, Any]
    seed: int
    instructgen_version: str
    status: str = "running"
    started_at: str = ""
    finished_at: str | None = None
    counts: dict[str, int] = attrs.field(factory=dict)
    rejection_reasons: dict[str, int] = attrs.field(factory=dict)
    source_stats: dict[str, int] = attrs.field(factory=dict)
    throughput: dict[str, float] = attrs.field(factory=dict)
    sessions: list[dict[str, Any]] = attrs.field(factory=list)
    message: str | None = None


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1, sort_keys=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_manifest(run_dir: Path) -> Manifest | None:
    path = run_dir / MANIFEST
    if not path.exists():
        return None
    try:
        return converter.structure(json.loads(path.read_text()), Manifest)
    except (ValueError, TypeError, KeyError) as exc:
        raise UserError(f"{path}: unreadable manifest ({exc}); rerun with {FRESH_FLAG}") from None


def read_state(run_dir: Path) -> dict[str, Any] | None:
    """The resume state of a run directory; ``None`` when it has none yet."""
    path = run_dir / STATE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        raise UserError(f"{path}: corrupt resume state; rerun with {FRESH_FLAG}") from None


def recipe_diff(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Key paths whose values differ between two recipes."""
    out = []
    for key in sorted(set(old) | set(new)):
        path = f"{prefix}.{key}" if prefix else key
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out.extend(recipe_diff(a, b, path))
        elif a != b:
            out.append(f"{path}: {json.dumps(a, default=str)} -> {json.dumps(b, default=str)}")
    return out


class Journal:
    """Append-only line files whose committed length is tracked in ``state.json``."""

    def __init__(self, run_dir: Path, names: list[str], *, fsync: bool = False) -> None:
        self.run_dir = run_dir
        self.fsync = fsync
        self.files: dict[str, IO[bytes]] = {}
        self.committed_items = 0
        self.extra: dict[str, Any] = {}
        state = read_state(run_dir)
        offsets = state.get("files", {}) if state else {}
        self.committed_items = state.get("committed_items", 0) if state else 0
        self.extra = state.get("extra", {}) if state else {}
        for name in names:
            path = run_dir / name
            f = path.open("ab+")
            # Cut whatever was written after the last committed state: partial
            # lines and the lines of items that were never committed.
            f.truncate(offsets.get(name, 0))
            f.seek(0, os.SEEK_END)
            self.files[name] = f

    def write(self, name: str, line: str) -> None:
        self.files[name].write(line.encode("utf-8") + b"\n")

    def commit(self, committed_items: int, extra: Mapping[str, Any] | None = None) -> None:
        """Make everything written so far durable and record it in the state."""
        for f in self.files.values():
            f.flush()
            if self.fsync:
                os.fsync(f.fileno())
        self.committed_items = committed_items
        if extra is not None:
            self.extra = dict(extra)
        write_json_atomic(
            self.run_dir / STATE,
            {
                "committed_items": committed_items,
                "files": {n: f.tell() for n, f in self.files.items()},
                "extra": self.extra,
            },
        )

    def close(self) -> None:
        for f in self.files.values():
            f.close()
        self.files.clear()


def iter_records(path: Path) -> Iterator[OutputRecord]:
    """Read back the accepted records of a run directory (or a records file)."""
    if path.is_dir():
        path = path / RECORDS
    if not path.exists():
        return
    with path.open("rb") as f:
        for line in f:
            if line.strip():
                yield converter.structure(json.loads(line), OutputRecord)


def clear_run_dir(run_dir: Path, extra_files: list[str]) -> None:
    """Remove what a previous run left, for ``--fresh``; other files are kept."""
    for name in [MANIFEST, STATE, RECORDS, REJECTS, *extra_files]:
        p = run_dir / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
