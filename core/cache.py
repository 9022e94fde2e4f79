"""Content-addressed cache of LLM calls, in SQLite (WAL mode).

A key is the SHA-256 of the backend identity, the full request (messages,
schema, sampling parameters, seed). Change one prompt and only the calls that
render it differently miss; everything else is still served from disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import quote

from instructgen.logs import Log

from .backend import BackendIdentity, Completion, LLMRequest
from .canonical import converter, stable_hash

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    completion TEXT NOT NULL,
    created REAL NOT NULL DEFAULT (strftime('%s', 'now'))
)
"""


#: Seconds to wait for a cache that another process holds locked before giving up on it.
LOCK_TIMEOUT_S = 30.0

_CORRUPT = frozenset({"SQLITE_NOTADB", "SQLITE_CORRUPT"})
_LOCKED = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})
_COLUMNS = {"key", "completion", "created"}


def default_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "instructgen" / "calls.sqlite"


class _Foreign(sqlite3.DatabaseError):
    """A valid SQLite file that is not a call cache: never write into it."""

    sqlite_errorname = "SQLITE_NOTADB"


class CallCache:
    """Maps requests to completions for one backend identity.

    A cache is only a cache: one that cannot be used never stops a run. A corrupt
    or foreign file is moved aside (``<name>.corrupt-<time>``) and a fresh one
    starts; a cache that another process keeps locked for more than ``timeout``
    seconds, or one on a read-only location, is used read-only; one that cannot be
    read at all is skipped. Each case logs one warning.
    """

    def __init__(self, path: str | os.PathLike[str], identity: BackendIdentity, *,
                 readonly: bool = False, log: Log | None = None,
                 timeout: float | None = None) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.timeout = LOCK_TIMEOUT_S if timeout is None else timeout
        self._prefix = identity.key()
        self._log = log
        self.hits = 0
        self.misses = 0
        #: The warnings this cache logged, in order (the run goes on after each).
        self.warnings: list[str] = []
        self._queued: list[tuple[str, str]] = []
        self._db: sqlite3.Connection | None = None
        if readonly:
            if self.path.exists():
                self._db = self._open_readonly(None)
        else:
            self._db = self._open_writable()

    # -- opening -------------------------------------------------------------------------

    def _connect(self, mode: str = "") -> sqlite3.Connection:
        uri = f"file:{quote(str(self.path))}{'?mode=' + mode if mode else ''}"
        return sqlite3.connect(uri, uri=True, timeout=self.timeout, check_same_thread=False)

    def _open_writable(self) -> sqlite3.Connection | None:
        db = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = self._connect()
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            with db:  # takes the write lock: a cache locked by another process shows here
                db.execute("BEGIN IMMEDIATE")
                _check_tables(db)
                db.execute(_SCHEMA)
            db.execute("SELECT key FROM calls LIMIT 1").fetchall()
            return db
        except (sqlite3.Error, OSError) as exc:
            if db is not None:
                db.close()
            return self._recover(exc)

    def _recover(self, exc: sqlite3.Error | OSError) -> sqlite3.Connection | None:
        name = _primary(exc)
        if name in _CORRUPT:
            return self._move_aside(exc)
        locked = name in _LOCKED
        if locked:
            why = f"is locked by another process for more than {self.timeout:g} s"
        else:
            why = f"cannot be written ({_reason(exc)})"
        self.readonly = True
        if not self.path.exists():
            self._skip(why)
            return None
        # ``immutable`` ignores locks: right for a read-only folder, wrong for a file
        # that another process may be writing.
        return self._open_readonly(why, immutable=not locked)

    def _open_readonly(self, why: str | None, *,
                       immutable: bool = True) -> sqlite3.Connection | None:
        """Read-only, even where SQLite cannot create its ``-shm`` file (a read-only folder).

        ``why`` is the warning's reason; ``None`` when read-only was asked for (preview).
        """
        last: sqlite3.Error | None = None
        for mode in ("ro", "ro&immutable=1") if immutable else ("ro",):
            db = None
            try:
                db = self._connect(mode)
                db.execute("SELECT key FROM calls LIMIT 1").fetchall()
            except sqlite3.Error as exc:
                if db is not None:
                    db.close()
                last = exc
                continue
            if why is not None:
                self._warn("cache_read_only", f"the call cache {why}; using it read-only "
                           "(answers are read from it, new ones are not stored)")
            return db
        self._skip(f"{why or 'is read-only'}; cannot be read either ({_reason(last)})")
        return None

    def _move_aside(self, exc: BaseException) -> sqlite3.Connection | None:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():  # never overwrite an earlier one
            aside, n = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}"), n + 1
        try:
            for suffix in ("", "-wal", "-shm"):
                src = Path(f"{self.path}{suffix}")
                if src.exists():
                    os.replace(src, f"{aside}{suffix}")
        except OSError as move_exc:
            self.readonly = True
            self._skip(f"is not a usable cache ({_reason(exc)}) and cannot be moved "
                       f"aside ({_reason(move_exc)})")
            return None
        self._warn("cache_moved_aside", f"the call cache is not a usable cache "
                   f"({_reason(exc)}); moved it to {aside.name} and started a fresh one")
        db = None
        try:
            db = self._connect()
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            with db:
                db.execute(_SCHEMA)
            return db
        except sqlite3.Error as fresh_exc:
            if db is not None:
                db.close()
            self.readonly = True
            self._skip(f"cannot be created afresh ({_reason(fresh_exc)})")
            return None

    def _skip(self, why: str) -> None:
        self._warn("cache_skipped", f"the call cache {why}; running without it")
        return None

    def _warn(self, event: str, message: str) -> None:
        self.warnings.append(message)
        log = self._log
        if log is None:
            from .logs import quiet_logger

            log = self._log = quiet_logger()
        log.warning(event, cache=str(self.path), detail=message)

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
            try:
                rows = self._db.execute(
                    f"SELECT key, completion FROM calls WHERE key IN ({marks})", chunk
                ).fetchall()
            except sqlite3.Error as exc:  # damaged under our feet: go on without it
                self._drop(f"cannot be read any more ({_reason(exc)})")
                break
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
            if payload.get("scores") is None:  # plain answers keep their old blob
                payload.pop("scores", None)
            rows.append((key, json.dumps(payload, ensure_ascii=False, separators=(",", ":"))))

    def flush(self) -> None:
        """Write queued completions in one transaction (one commit per batch is costly)."""
        if self._db is None or not self._queued:
            return
        try:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO calls (key, completion) VALUES (?, ?)", self._queued)
        except sqlite3.Error as exc:  # locked past the timeout, a full disk: stop storing
            self._queued.clear()
            self.readonly = True
            name = _primary(exc)
            why = (f"is locked by another process for more than {self.timeout:g} s"
                   if name in _LOCKED else f"cannot be written ({_reason(exc)})")
            self._warn("cache_read_only", f"the call cache {why}; new answers are not stored "
                       "from now on")
            return
        self._queued.clear()

    def _drop(self, why: str) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
        self._queued.clear()
        self._skip(why)

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None


def _check_tables(db: sqlite3.Connection) -> None:
    """Refuse a valid SQLite file that holds something else than a call cache."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        return
    columns = {row[1] for row in db.execute("PRAGMA table_info(calls)")}
    if columns != _COLUMNS:
        raise _Foreign(f"a SQLite file with other tables ({', '.join(sorted(tables)[:3])})")


def _primary(exc: BaseException) -> str:
    """The primary SQLite error name: ``SQLITE_BUSY`` for ``SQLITE_BUSY_SNAPSHOT``."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    return "_".join(name.split("_")[:2])


def _reason(exc: BaseException | None) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
