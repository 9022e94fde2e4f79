"""A cache that cannot be used never stops a run: corrupt, foreign, locked, read-only, full."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sqlite3
import subprocess
import sys

import pytest
from rundir_helpers import as_unprivileged, files, setup, shared_dir

import instructgen
from instructgen import cache as cache_module
from instructgen.backend import BackendIdentity, Completion, LLMRequest
from instructgen.cache import CallCache
from instructgen.cli import main

N = 30
ACCEPTED = N - 4  # items 4, 11, 18 and 25 lack the template's field


def _run(recipe, capsys):
    code = main(["run", str(recipe), "--no-progress"])
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if "warning" in line]


def _hits(tmp_path, cache, name):
    """Run the recipe into a new directory with ``cache``; how many calls were served."""
    recipe, _ = setup(tmp_path, name, n=N, cache=cache)
    return instructgen.run(recipe, autoload=False).cache_hits


@pytest.mark.reliability(
    failure="a call cache file that is not a database (a crash on a network disk, a bad copy)",
    user_sees="one warning: `the call cache is not a usable cache (file is not a database); "
              "moved it to calls.sqlite.corrupt-<time> and started a fresh one`",
    exit_code=0,
    kept="the bad file, renamed; the run and its records are complete")
def test_a_corrupt_cache_is_moved_aside_and_a_fresh_one_starts(tmp_path, capsys):
    cache = tmp_path / "calls.sqlite"
    junk = b"\x00garbage, not SQLite\n" * 64
    cache.write_bytes(junk)
    recipe, out = setup(tmp_path, "run", n=N, cache=cache)
    code, warnings = _run(recipe, capsys)
    assert code == 0
    (warning,) = warnings
    assert "not a usable cache (file is not a database)" in warning
    (aside,) = tmp_path.glob("calls.sqlite.corrupt-*")
    assert aside.read_bytes() == junk and f"moved it to {aside.name}" in warning
    assert files(out)["records.jsonl"].count(b"\n") == ACCEPTED
    assert _hits(tmp_path, cache, "again") == ACCEPTED  # the fresh cache works


@pytest.mark.reliability(
    failure="cache.path pointing at someone else's SQLite database",
    user_sees="one warning: `… not a usable cache (a SQLite file with other tables (…)); moved "
              "it to ….corrupt-<time> …`; nothing is written into that database",
    exit_code=0, kept="the other database, renamed and unchanged; the run is complete")
def test_a_foreign_sqlite_file_is_moved_aside_untouched(tmp_path, capsys):
    cache = tmp_path / "calls.sqlite"
    with contextlib.closing(sqlite3.connect(cache)) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.execute("INSERT INTO users VALUES ('ada')")
        db.commit()
    recipe, out = setup(tmp_path, "run", n=N, cache=cache)
    code, warnings = _run(recipe, capsys)
    assert code == 0 and len(warnings) == 1
    assert "a SQLite file with other tables (users)" in warnings[0]
    (aside,) = tmp_path.glob("calls.sqlite.corrupt-*")
    with contextlib.closing(sqlite3.connect(aside)) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master")]
        assert tables == ["users"] and db.execute("SELECT name FROM users").fetchall() == [
            ("ada",)]
    assert files(out)["records.jsonl"].count(b"\n") == ACCEPTED


@contextlib.contextmanager
def _held(path, how):
    """Another process holding ``path`` locked (``how``: IMMEDIATE or EXCLUSIVE) until exit."""
    code = ("import sqlite3, sys\n"
            f"db = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
            f"db.execute('BEGIN {how}')\n"
            "db.execute(\"INSERT INTO calls (key, completion) VALUES ('other', '{}')\")\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


@pytest.mark.reliability(
    failure="a call cache that another process keeps write-locked past the timeout (30 s)",
    user_sees="one warning: `the call cache is locked by another process for more than 30 s; "
              "using it read-only (answers are read from it, new ones are not stored)`",
    exit_code=0,
    kept="the cache and the other process's transaction; answers already cached are reused")
def test_a_cache_locked_by_another_process_is_used_read_only(tmp_path, capsys, monkeypatch):
    cache = tmp_path / "calls.sqlite"
    recipe, out = setup(tmp_path, "first", n=N, cache=cache)
    assert main(["-q", "run", str(recipe), "--no-progress"]) == 0
    expected = files(out)
    monkeypatch.setattr(cache_module, "LOCK_TIMEOUT_S", 0.5)
    recipe, out = setup(tmp_path, "second", n=N, cache=cache)
    with _held(cache, "IMMEDIATE"):
        summary = instructgen.run(recipe, autoload=False)
    (warning,) = [x for x in capsys.readouterr().err.splitlines() if "warning" in x]
    assert "locked by another process for more than 0.5 s; using it read-only" in warning
    assert summary.status == "finished" and summary.cache_hits == ACCEPTED
    assert files(out) == expected


@pytest.mark.reliability(
    failure="a call cache that another process holds exclusively (no reading either)",
    user_sees="one warning: `the call cache is locked by another process for more than 30 s; "
              "cannot be read either (database is locked); running without it`",
    exit_code=0, kept="the cache untouched; the run is complete, answers are computed afresh")
def test_a_cache_locked_exclusively_is_skipped(tmp_path, capsys, monkeypatch):
    cache = tmp_path / "calls.sqlite"
    with contextlib.closing(sqlite3.connect(cache)) as db:  # rollback journal: no WAL readers
        db.execute(cache_module._SCHEMA)
        db.commit()
    monkeypatch.setattr(cache_module, "LOCK_TIMEOUT_S", 0.5)
    recipe, out = setup(tmp_path, "run", n=N, cache=cache)
    with _held(cache, "EXCLUSIVE"):
        code, warnings = _run(recipe, capsys)
    assert code == 0 and len(warnings) == 1
    assert "locked by another process for more than 0.5 s; cannot be read either" in warnings[0]
    assert "running without it" in warnings[0]
    assert files(out)["records.jsonl"].count(b"\n") == ACCEPTED


@pytest.mark.reliability(
    failure="a call cache in a read-only folder (a shared cache, a read-only mount)",
    user_sees="one warning: `the call cache cannot be written (…); using it read-only "
              "(answers are read from it, new ones are not stored)`",
    exit_code=0, kept="the cache, unchanged; its answers are reused")
def test_a_cache_in_a_read_only_folder_is_used_read_only(tmp_path):
    base = shared_dir(tmp_path, "readonly-cache")
    try:
        cache_dir = base / "cache"
        cache_dir.mkdir()
        cache = cache_dir / "calls.sqlite"
        recipe, out = setup(base, "first", n=N, cache=cache)
        assert instructgen.run(recipe, autoload=False).status == "finished"
        for extra in cache_dir.glob("calls.sqlite-*"):
            extra.unlink()  # a cache copied to a shared place: the database file only
        before = cache.read_bytes()
        cache_dir.chmod(0o555)
        cache.chmod(0o444)
        work = base / "work"
        work.mkdir(mode=0o777)
        work.chmod(0o777)
        recipe, out = setup(base, "work/second", n=N, cache=cache)

        def second_run():
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                summary = instructgen.run(recipe, autoload=False)
            return summary.status, summary.cache_hits, err.getvalue(), files(out)

        status, hits, err, written = as_unprivileged(second_run)
        (warning,) = [x for x in err.splitlines() if "warning" in x]
        assert "the call cache cannot be written (" in warning and "read-only" in warning
        assert status == "finished" and hits == ACCEPTED
        assert written == files(base / "first")
        assert cache.read_bytes() == before
        assert sorted(p.name for p in cache_dir.iterdir()) == ["calls.sqlite"]
    finally:
        shutil.rmtree(base)


@pytest.mark.reliability(
    failure="the cache's disk fills up (or the cache is locked) while a run stores answers",
    user_sees="one warning: `the call cache cannot be written (database or disk is full); new "
              "answers are not stored from now on`",
    exit_code=0, kept="every answer stored before; the run goes on")
def test_a_cache_that_fills_up_mid_run_stops_storing_and_the_run_goes_on(tmp_path):
    identity = BackendIdentity(name="fake", model="m", settings={})
    cache = CallCache(tmp_path / "calls.sqlite", identity)
    first = LLMRequest(messages=[("user", "first")])
    cache.put_many([(cache.key(first), Completion(text="one"))])
    cache.flush()
    assert cache._db is not None
    pages = cache._db.execute("PRAGMA page_count").fetchone()[0]
    cache._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full from now on
    big = [(f"k{i}", Completion(text="x" * 5000)) for i in range(20)]
    cache.put_many(big)
    cache.flush()  # must not raise
    assert cache.readonly and len(cache.warnings) == 1
    assert "cannot be written (database or disk is full)" in cache.warnings[0]
    cache.put_many(big)
    cache.flush()  # stays quiet: one warning only
    assert len(cache.warnings) == 1
    assert cache.get_many([cache.key(first)])[cache.key(first)].text == "one"
    cache.close()


def test_a_preview_with_a_corrupt_cache_reads_nothing_and_writes_nothing(tmp_path, capsys):
    cache = tmp_path / "calls.sqlite"
    cache.write_bytes(b"junk" * 100)
    recipe, out = setup(tmp_path, "run", n=N, cache=cache)
    assert main(["-q", "preview", str(recipe), "-n", "2"]) == 0
    printed = capsys.readouterr()
    assert [json.loads(x)["item_id"] for x in printed.out.splitlines()] == ["1", "2"]
    assert "running without it" in printed.err
    assert cache.read_bytes() == b"junk" * 100 and not out.exists()


@pytest.mark.reliability(
    failure="a call cache file that the user may neither write nor read",
    user_sees="one warning: `the call cache cannot be written (…); cannot be read either (…); "
              "running without it`",
    exit_code=0, kept="the cache file, untouched; the run is complete")
def test_an_unreadable_cache_is_skipped(tmp_path):
    base = shared_dir(tmp_path, "unreadable-cache")
    try:
        cache = base / "calls.sqlite"
        recipe, _ = setup(base, "first", n=N, cache=cache)
        assert instructgen.run(recipe, autoload=False).status == "finished"
        for extra in base.glob("calls.sqlite-*"):
            extra.unlink()
        before = cache.read_bytes()
        cache.chmod(0o000)
        work = base / "work"
        work.mkdir()
        work.chmod(0o777)
        recipe, out = setup(base, "work/second", n=N, cache=cache)

        def second_run():
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                summary = instructgen.run(recipe, autoload=False)
            return summary.status, summary.cache_hits, err.getvalue(), files(out)

        status, hits, err, written = as_unprivileged(second_run)
        (warning,) = [x for x in err.splitlines() if "warning" in x]
        assert "cannot be read either" in warning and "running without it" in warning
        assert status == "finished" and hits == 0
        assert written == files(base / "first")
        cache.chmod(0o644)
        assert cache.read_bytes() == before
    finally:
        shutil.rmtree(base)
