"""The run directory: manifest, journals and the state that makes resume exact.

Layout::

    manifest.json   recipe, hashes, plugin versions, backend, times, counts
    records.jsonl   accepted records (native form, with provenance)
    rejects.jsonl   rejected items and records, with reason and raw model text
    <sink file>     e.g. output.jsonl, when a line sink is configured
    state.json      items committed so far and the byte length of each file
    .instructgen.lock   held (flock) by the run that writes here; pid and host inside

Items are committed in source order. ``state.json`` is replaced atomically
after the lines it covers are written, so after a crash every file is cut back
to the length the state records: no partial line, no duplicate, nothing lost.
The same holds when a write fails (a full disk, an I/O error) or a signal
arrives between two lines of one item: lines reach the disk only at a commit,
and only whole items' lines.

This module holds the formats and their guards; one run's use of them (lock,
resume verdict, journal, manifest across sessions) is
:class:`instructgen.directory.RunDirectory`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from .canonical import converter
from .errors import OutputWriteError, RunDirLocked, UserError
from .records import OutputRecord

MANIFEST = "manifest.json"
STATE = "state.json"
RECORDS = "records.jsonl"
REJECTS = "rejects.jsonl"
LOCK = ".instructgen.lock"
FRESH_FLAG = "--fresh"


#: How a run stands. ``running`` is on disk while a session writes (or after a
#: ``kill -9``); ``already_finished`` is only ever a summary's (the rerun of a finished
#: run), never a manifest's.
RunStatus = Literal["running", "finished", "interrupted", "failed", "aborted", "stopped",
                    "already_finished"]


@attrs.define
class RunOutcome:
    """How a run ended, or that it has not yet: the one copy of its status and message.

    The run directory owns it and renders it into the manifest; the run's
    :class:`~instructgen.counters.RunSummary` reads the same object, so nothing
    copies a status from one to the other and a late failure (the sink's last
    step) is said once.
    """

    status: RunStatus = "running"
    message: str = ""

    def stop(self, status: RunStatus, message: str) -> None:
        """The run ends as ``status`` (an interrupt, a failed write, an abort)."""
        self.status, self.message = status, message

    def end(self, status: RunStatus) -> None:
        """The run ended without saying how (the loop ran out, the caller stopped
        reading): a run still ``running`` becomes ``status``; any other stays."""
        if self.status == "running":
            self.status = status

    def note(self, message: str) -> None:
        """Say something more about an ended run (where it was published)."""
        self.message = message


@attrs.define
class Manifest:
    """What a run was, for humans, reports and resume checks.

    The run directory renders it: ``status`` and ``message`` come from its
    :class:`RunOutcome` at that moment.
    """

    run_dir: str
    recipe: dict[str, Any]
    recipe_hash: str
    plugins: dict[str, str]
    backend: dict[str, Any]
    seed: int
    instructgen_version: str
    status: RunStatus = "running"
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
    """Replace ``path`` with ``obj`` as JSON, all or nothing (no half-written file, ever)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=1, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()  # a full disk must not also keep a half-written temporary file
        raise


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
        state: dict[str, Any] = json.loads(path.read_text())
    except ValueError:
        raise UserError(f"{path}: corrupt resume state; rerun with {FRESH_FLAG}") from None
    return state


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
    """Append-only line files whose committed length is tracked in ``state.json``.

    :meth:`write` only queues a line; :meth:`mark` closes an item (all of its lines
    are queued); :meth:`commit` writes the lines of every marked item, then the
    state. A signal between two lines of an item, or a write that fails half-way,
    therefore never leaves the state describing a partial item.

    A signal can also land anywhere inside :meth:`commit`, and the runner then
    commits again. So every piece of bookkeeping is replaced in one assignment,
    lines are counted from the start of the run (never renumbered in place), and
    lines go to fixed offsets: a commit done again writes the same bytes at the
    same place and the same state.
    """

    def __init__(self, run_dir: Path, names: list[str], *, fsync: bool = False) -> None:
        self.run_dir = run_dir
        self.fsync = fsync
        #: Open file descriptors, by file name.
        self.files: dict[str, int] = {}
        state = read_state(run_dir)
        offsets = state.get("files", {}) if state else {}
        items: int = state.get("committed_items", 0) if state else 0
        extra: dict[str, Any] = state.get("extra", {}) if state else {}
        zero = {n: 0 for n in names}
        #: What state.json says: (file lengths, items, extra, lines written per file).
        self._done: tuple[dict[str, int], int, dict[str, Any], dict[str, int]] = (
            {n: offsets.get(n, 0) for n in names}, items, extra, zero)
        #: (number of the first queued line, queued lines), per file.
        self._buf: tuple[dict[str, int], dict[str, list[bytes]]] = (
            dict(zero), {n: [] for n in names})
        #: (items, lines queued per file, extra) at the last item boundary.
        self._mark: tuple[int, dict[str, int], dict[str, Any]] = (items, dict(zero), extra)
        #: The write error that broke this journal; nothing is committed after it.
        self.broken: OutputWriteError | None = None
        for name in names:
            path = run_dir / name
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                self.close()
                raise OutputWriteError(path, exc, committed=items) from None
            self.files[name] = fd
            # Cut whatever was written after the last committed state: partial
            # lines and the lines of items that were never committed.
            length = self.offsets[name]
            size = os.fstat(fd).st_size
            if size < length:
                self.close()
                raise UserError(f"{path}: shorter than {STATE} says ({size} < {length} bytes), "
                                f"so committed lines were lost; rerun with {FRESH_FLAG}")
            try:
                os.ftruncate(fd, length)
            except OSError as exc:
                self.close()
                raise OutputWriteError(path, exc, committed=items) from None

    @property
    def offsets(self) -> dict[str, int]:
        """Byte length of each file as the state on disk describes it."""
        return self._done[0]

    @property
    def committed_items(self) -> int:
        return self._done[1]

    @property
    def extra(self) -> dict[str, Any]:
        return self._done[2]

    def write(self, name: str, line: str) -> None:
        """Queue one line; it reaches the disk at the first commit after its item's mark."""
        self._buf[1][name].append(line.encode("utf-8") + b"\n")

    def mark(self, items: int, extra: Mapping[str, Any] | None = None) -> None:
        """The first ``items`` items are complete: every line queued so far is theirs."""
        first, queued = self._buf
        self._mark = (items, {n: first[n] + len(q) for n, q in queued.items()},
                      dict(extra) if extra is not None else self._mark[2])

    def commit(self, extra: Mapping[str, Any] | None = None) -> bool:
        """Write the lines of every marked item, then the state that covers them.

        ``extra`` updates the state's ``extra`` of the last mark. Returns ``False``,
        writing nothing, once a write has failed; the failing write raises
        :class:`OutputWriteError` naming the file.
        """
        if self.broken is not None:
            return False
        items, upto, marked_extra = self._mark
        offsets, _, _, written = self._done
        first, queued = self._buf
        new_offsets = dict(offsets)
        for name, fd in self.files.items():
            lines = queued[name][written[name] - first[name]: upto[name] - first[name]]
            data = b"".join(lines)
            if data:
                self._put(name, fd, data, new_offsets[name])
                new_offsets[name] += len(data)
        state_extra = {**marked_extra, **(extra or {})}
        try:
            if self.fsync:
                for fd in self.files.values():
                    os.fsync(fd)
            write_json_atomic(self.run_dir / STATE, {
                "committed_items": items, "files": new_offsets, "extra": state_extra})
        except OSError as exc:
            self._break(self.run_dir / STATE, exc)
        self._done = (new_offsets, items, state_extra, dict(upto))
        # Forget the written lines; until this assignment the old queue is still right.
        self._buf = (dict(upto), {n: q[upto[n] - first[n]:] for n, q in queued.items()})
        return True

    def _put(self, name: str, fd: int, data: bytes, at: int) -> None:
        view, done = memoryview(data), 0
        try:
            while done < len(data):
                written = self._os_write(fd, view[done:], at + done)
                if not written:
                    raise OSError(errno.EIO, os.strerror(errno.EIO))
                done += written
        except OSError as exc:
            self._break(self.run_dir / name, exc)

    #: The one call that puts journal bytes on disk (tests replace it to fail).
    _os_write = staticmethod(os.pwrite)

    def _break(self, path: Path, exc: OSError) -> None:
        """A write failed: cut every file back to the state's lengths and stop committing."""
        self.broken = OutputWriteError(path, exc, committed=self.committed_items)
        for name, fd in self.files.items():
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self.offsets[name])  # shrinking never needs free space
        raise self.broken from None

    def close(self) -> None:
        for fd in self.files.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.files.clear()


class RunDirLock:
    """An exclusive ``flock`` on the run directory's lock file, for one run's whole life.

    The kernel drops the lock when its process ends, however it ends: a run killed
    with ``kill -9`` never leaves a stale lock behind. The file keeps the holder's
    pid and host, so a refused run can say who holds the directory.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.path = run_dir / LOCK
        self._fd: int | None = None

    @classmethod
    def acquire(cls, run_dir: Path) -> RunDirLock:
        """Create the directory if needed and lock it; exits 2 (a :class:`UserError`) when the
        directory cannot be created or written, or another run holds it."""
        lock = cls(run_dir)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{run_dir}: cannot create the output directory "
                            f"({_reason(exc)})") from None
        try:
            fd = os.open(lock.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UserError(f"{run_dir}: cannot write to the output directory "
                            f"({_reason(exc)})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(fd)
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                raise UserError(f"{run_dir}: cannot lock the output directory "
                                f"({_reason(exc)})") from None
            raise RunDirLocked(
                f"{run_dir}: another run is writing to this output directory ({holder}); "
                "wait for it to end, or choose another output_dir") from None
        stamp = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                            "since": now_iso()}).encode() + b"\n"
        try:
            os.ftruncate(fd, 0)
            if os.pwrite(fd, stamp, 0) != len(stamp):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            os.close(fd)
            raise UserError(f"{run_dir}: cannot write to the output directory "
                            f"({_reason(exc)})") from None
        lock._fd = fd
        return lock

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Unlock; the file stays (removing it could let two runs lock different files)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {info['pid']} on host {info['host']}, since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown: it is still starting"


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


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
