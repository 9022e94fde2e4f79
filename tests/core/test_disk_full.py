"""A full disk or an I/O error while writing loses nothing: one line, exit 5, exact resume.

The fault is injected at the one call that puts journal bytes on disk
(``Journal._os_write``), at several points: the first write, mid-run, after a
short (partial) write, on each of the three line files, and on ``state.json``.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from rundir_helpers import files, setup

from instructgen import runner as runner_module
from instructgen.cli import main
from instructgen.rundir import Journal

N = 40


class Fault:
    """Fail the ``at``-th write to ``name``, optionally after a short write of half of it."""

    def __init__(self, name: str, at: int, code: int, partial: bool) -> None:
        self.name, self.at, self.code, self.partial = name, at, code, partial
        self.seen = 0
        self.armed = False
        self.original = Journal._os_write

    def __call__(self, fd: int, data, offset: int) -> int:
        if Path(os.readlink(f"/proc/self/fd/{fd}")).name != self.name:
            return self.original(fd, data, offset)
        if self.armed:
            raise OSError(self.code, os.strerror(self.code))
        self.seen += 1
        if self.seen == self.at:
            if not self.partial:
                raise OSError(self.code, os.strerror(self.code))
            self.armed = True  # the disk fills up half-way: a short write, then the error
            return self.original(fd, data[: max(1, len(data) // 2)], offset)
        return self.original(fd, data, offset)


def _clean(tmp_path):
    recipe, out = setup(tmp_path, "clean", n=N)
    assert main(["-q", "run", str(recipe), "--no-progress"]) == 0
    return files(out)


def _check_consistent(out: Path) -> int:
    """state.json describes only whole lines, and every file ends where it says."""
    if not (out / "state.json").exists():  # nothing was ever committed: nothing is written
        assert all((out / n).stat().st_size == 0 for n in ("records.jsonl", "rejects.jsonl"))
        return 0
    state = json.loads((out / "state.json").read_text())
    for name, size in state["files"].items():
        data = (out / name).read_bytes()
        assert len(data) == size, name
        assert not data or data.endswith(b"\n"), name
        for line in data.splitlines():
            json.loads(line)
    return state["committed_items"]


_ENOSPC = "No space left on device"
_EIO = "Input/output error"


@pytest.mark.parametrize("name, at, code, partial", [
    pytest.param("records.jsonl", 1, errno.ENOSPC, False, marks=pytest.mark.reliability(
        failure="the disk is full when the first records are written",
        user_sees="one line: `…/records.jsonl: cannot write (No space left on device); the "
                  "first 0 items are saved; free some space, then rerun the same command to "
                  "resume`",
        exit_code=5, kept="the run directory as it was; the rerun's files are byte-identical "
                          "to an uninterrupted run")),
    pytest.param("records.jsonl", 7, errno.ENOSPC, True, marks=pytest.mark.reliability(
        failure="the disk fills up mid-run, half-way through a write (a short write)",
        user_sees="one line: `…/records.jsonl: cannot write (No space left on device); the "
                  "first N items are saved; free some space, then rerun …`",
        exit_code=5, kept="every item committed before; the half-written line is cut off; the "
                          "rerun's files are byte-identical to an uninterrupted run")),
    pytest.param("rejects.jsonl", 2, errno.EIO, True, marks=pytest.mark.reliability(
        failure="an I/O error (EIO: a failing disk, a dropped network mount) on rejects.jsonl",
        user_sees="one line: `…/rejects.jsonl: cannot write (Input/output error); the first N "
                  "items are saved; check the disk, then rerun the same command to resume`",
        exit_code=5, kept="every item committed before, in all three files")),
    pytest.param("output.jsonl", 12, errno.ENOSPC, False, marks=pytest.mark.reliability(
        failure="the disk fills up while the sink file (output.jsonl) is appended",
        user_sees="one line: `…/output.jsonl: cannot write (No space left on device); …`",
        exit_code=5, kept="every item committed before; records.jsonl is cut back to match")),
])
def test_a_failed_write_ends_the_run_with_one_line_and_the_rerun_is_exact(
        tmp_path, monkeypatch, capsys, name, at, code, partial):
    expected = _clean(tmp_path)
    capsys.readouterr()
    recipe, out = setup(tmp_path, "full", n=N)
    monkeypatch.setattr(runner_module, "_COMMIT_EVERY_S", 0.0)  # commit after every item
    monkeypatch.setattr(Journal, "_os_write", staticmethod(Fault(name, at, code, partial)))
    assert main(["-q", "run", str(recipe), "--no-progress"]) == 5
    (line,) = capsys.readouterr().err.strip().splitlines()
    committed = _check_consistent(out)
    reason = _ENOSPC if code == errno.ENOSPC else _EIO
    fix = "free some space" if code == errno.ENOSPC else "check the disk"
    assert line == (f"instructgen: error: {out / name}: cannot write ({reason}); the first "
                    f"{committed} items are saved; {fix}, then rerun the same command to resume")
    assert (committed == 0) == (at == 1)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed" and f"{out / name}: cannot write" in manifest["message"]
    monkeypatch.undo()  # space is freed
    assert main(["-q", "run", str(recipe), "--no-progress"]) == 0
    assert files(out) == expected


@pytest.mark.reliability(
    failure="the disk is full when state.json is replaced",
    user_sees="one line: `…/state.json: cannot write (No space left on device); the first N "
              "items are saved; free some space, then rerun …`",
    exit_code=5, kept="the previous state.json, whole (no temporary file is left behind); lines "
                      "written after it are cut on the rerun, which is byte-identical")
def test_a_full_disk_when_the_state_is_replaced_keeps_the_previous_state(
        tmp_path, monkeypatch, capsys):
    expected = _clean(tmp_path)
    capsys.readouterr()
    recipe, out = setup(tmp_path, "full", n=N)
    monkeypatch.setattr(runner_module, "_COMMIT_EVERY_S", 0.0)
    real_replace, replaced = os.replace, []

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == "state.json":
            replaced.append(dst)
            if len(replaced) == 5:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    assert main(["-q", "run", str(recipe), "--no-progress"]) == 5
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"{out / 'state.json'}: cannot write ({_ENOSPC}); the first 4 items are saved" in line
    state = json.loads((out / "state.json").read_text())
    assert state["committed_items"] == 4
    assert not list(out.glob(".state.json.*.tmp"))
    _check_consistent(out)  # the lines of item 5 were cut back when the write failed
    monkeypatch.undo()
    assert main(["-q", "run", str(recipe), "--no-progress"]) == 0
    assert files(out) == expected


def test_the_manifest_failing_too_still_reports_the_first_failure(tmp_path, monkeypatch, capsys):
    recipe, out = setup(tmp_path, "full", n=N)
    monkeypatch.setattr(runner_module, "_COMMIT_EVERY_S", 0.0)
    monkeypatch.setattr(Journal, "_os_write",
                        staticmethod(Fault("records.jsonl", 3, errno.ENOSPC, False)))
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == "manifest.json" and (out / "state.json").exists():
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # after the first save
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    assert main(["-q", "run", str(recipe), "--no-progress"]) == 5
    err = capsys.readouterr().err
    assert f"{out / 'records.jsonl'}: cannot write ({_ENOSPC})" in err
    assert "Traceback" not in err
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    _check_consistent(out)


@pytest.mark.reliability(
    failure="the disk fills up while the sink converts the finished run (Parquet, HF datasets)",
    user_sees="one line: `…/.output.parquet.tmp: cannot write (No space left on device); the "
              "first N items are saved; free some space, then rerun …`; manifest status "
              "`failed`",
    exit_code=5,
    kept="records.jsonl and rejects.jsonl, complete; the rerun only writes the sink's file")
def test_a_full_disk_in_the_sinks_last_step_is_finished_by_the_rerun(
        tmp_path, monkeypatch, capsys):
    pytest.importorskip("pyarrow", reason="the parquet sink needs pyarrow")
    from instructgen.plugins.io import arrow as io_plugins

    recipe, out = setup(tmp_path, "parquet", n=N)
    recipe.write_text(recipe.read_text().replace('name = "jsonl"\nformat = "flat"',
                                                 'name = "parquet"'))
    real_write_table = io_plugins.write_table

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(io_plugins, "write_table", full)
    assert main(["-q", "run", str(recipe), "--no-progress"]) == 5
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (f"instructgen: error: {out / '.output.parquet.tmp'}: cannot write "
                    f"({_ENOSPC}); the first {N} items are saved; free some space, then rerun "
                    "the same command to resume")
    assert json.loads((out / "manifest.json").read_text())["status"] == "failed"
    records = (out / "records.jsonl").read_bytes()
    assert records.count(b"\n") == N - 6 and not (out / "output.parquet").exists()
    calls = []
    monkeypatch.setattr(io_plugins, "write_table",
                        lambda *a, **k: calls.append(1) or real_write_table(*a, **k))
    assert main(["-q", "run", str(recipe), "--no-progress"]) == 0
    assert calls == [1] and (out / "output.parquet").exists()
    assert (out / "records.jsonl").read_bytes() == records
    assert json.loads((out / "manifest.json").read_text())["status"] == "finished"
    capsys.readouterr()
    assert main(["run", str(recipe)]) == 0 and "nothing to do" in capsys.readouterr().err


@pytest.mark.reliability(
    failure="the disk is full when the finished run's manifest is saved",
    user_sees="one line: `…/manifest.json: cannot write (No space left on device); the first N "
              "items are saved; …`",
    exit_code=5, kept="every record; the rerun generates nothing and marks the run finished")
def test_a_full_disk_for_the_last_manifest_is_finished_by_the_rerun(
        tmp_path, monkeypatch, capsys):
    recipe, out = setup(tmp_path, "manifest", n=N)
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == "manifest.json" and json.loads(Path(src).read_text())[
                "status"] == "finished":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    assert main(["-q", "run", str(recipe), "--no-progress"]) == 5
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"instructgen: error: {out / 'manifest.json'}: cannot write "
                           f"({_ENOSPC}); the first {N} items are saved")
    before = files(out)
    monkeypatch.undo()
    assert main(["-q", "run", str(recipe), "--no-progress"]) == 0
    assert files(out) == before
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["sessions"][-1]["resumed_at_item"] == N
