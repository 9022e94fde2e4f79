"""Content-addressed cache of LLM calls, in SQLite (WAL mode).

A key is the SHA-256 of the backend identity, the full request (messages,
schema, sampling parameters, seed). Change one prompt and only the calls that
render it differently miss; everything else is still served from disk.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from .records import BackendIdentity, Completion, LLMRequest, converter, stable_hash

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    completion TEXT NOT NULL,
    created REAL NOT NULL DEFAULT (strftime('%s', 'now'))
)
"""


def default_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "instructgen" / "calls.sqlite"


class CallCache:
    """Maps requests to completions for one backend identity."""

    def __init__(self, path: str | os.PathLike[str], identity: BackendIdentity, *,
                 readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._prefix = identity.key()
        self.hits = 0
        self.misses = 0
        self._queued: list[tuple[str, str]] = []
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            self._db = None
            return
        uri = f"file:{self.path}{'?mode=ro' if readonly else ''}"
        self._db: sqlite3.Connection | None = sqlite3.connect(uri, uri=True, timeout=30,
                                                               check_same_thread=False)
        if not readonly:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            self._db.commit()

    def key(self, request: LLMRequest) -> str:
        return stable_hash([self._prefix, request.cache_payload()])

    def get_many(self, keys: Sequence[str]) -> dict[str, Completion]:
        """Completions found for ``keys`` (missing keys are absent)."""
        found: dict[str, Completion] = {}
        if self._db is None or not keys:
            return found
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, completion FROM calls WHERE key IN ({marks})", chunk
            ).fetchall()
            for key, blob in rows:
                found[key] = converter.structure({**json.loads(blob), "cached": True}, Completion)
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        return found

    def put_many(self, entries: Iterable[tuple[str, Completion]]) -> None:
        """Queue completions; they reach the disk at the next :meth:`flush`."""
        if self._db is None or self.readonly:
            return
        rows = self._queued
        for key, completion in entries:
            if completion.finish_reason == "error":
                continue  # never cache failures
            payload = converter.unstructure(completion)
            payload.pop("cached", None)
            rows.append((key, json.dumps(payload, ensure_ascii=False, separators=(",", ":"))))

    def flush(self) -> None:
        """Write queued completions in one transaction (one commit per batch is costly)."""
        if self._db is None or not self._queued:
            return
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO calls (key, completion) VALUES (?, ?)",
                                 self._queued)
        self._queued.clear()

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None
