"""One run per output directory: a lock that refuses a second run and dies with its holder."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
import signal
import socket
import subprocess

import pytest
from rundir_helpers import as_unprivileged, cli, files, gated, setup, shared_dir, wait_for

import instructgen
from instructgen.api import plan
from instructgen.cli import main
from instructgen.errors import RunDirLocked
from instructgen.rundir import LOCK, RunDirLock
from instructgen.runner import Runner


@pytest.mark.reliability(
    failure="a second run on an output directory that a live run is writing to",
    user_sees="one line: `…/out: another run is writing to this output directory (pid N on "
              "host H, since …); wait for it to end, or choose another output_dir`",
    exit_code=2,
    kept="the first run goes on and writes exactly one record per item; the second writes "
         "nothing")
@pytest.mark.slow
def test_a_second_run_on_the_same_directory_is_refused_and_the_first_finishes(tmp_path):
    recipe, out = setup(tmp_path, "run", n=60)
    started, release = tmp_path / "started", tmp_path / "release"
    first = subprocess.Popen(gated(recipe, started, release), stderr=subprocess.PIPE, text=True)
    try:
        wait_for(started, first)  # the first run holds the lock and is inside its first batch
        second = subprocess.run(cli("-q", "run", recipe, "--no-progress"),
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        (line,) = second.stderr.strip().splitlines()
        assert f"{out}: another run is writing to this output directory" in line
        assert f"pid {first.pid} on host {socket.gethostname()}" in line
        # preview and report only read: they need no lock, even while a run holds it
        preview = subprocess.run(cli("-q", "preview", recipe, "-n", "1"), capture_output=True,
                                 text=True, timeout=120)
        assert preview.returncode == 0 and json.loads(preview.stdout)["item_id"] == "1"
        report = subprocess.run(cli("-q", "report", out), capture_output=True, text=True,
                                timeout=120)
        assert report.returncode == 0, report.stderr
        assert "another run" not in report.stderr and (out / "report.md").exists()
    finally:
        release.touch()
        _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    ids = [json.loads(x)["item_id"] for x in (out / "records.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 60 - 9  # one record per accepted item, no duplicate
    rejected = (out / "rejects.jsonl").read_text().splitlines()
    assert len(rejected) == 9
    again = subprocess.run(cli("run", recipe), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "nothing to do" in again.stderr


@pytest.mark.reliability(
    failure="a lock file left by a run killed with kill -9",
    user_sees="nothing: the kernel dropped the lock with the process; rerunning resumes",
    exit_code=0,
    kept="every committed item; the resumed files are byte-identical to an uninterrupted run")
@pytest.mark.slow
def test_a_lock_file_left_by_a_killed_run_does_not_block_the_resume(tmp_path):
    recipe, out = setup(tmp_path, "clean", n=30)
    subprocess.run(cli("-q", "run", recipe, "--no-progress"), check=True, timeout=120)
    expected = files(out)
    recipe, out = setup(tmp_path, "killed", n=30)
    started, release = tmp_path / "started", tmp_path / "release"
    proc = subprocess.Popen(gated(recipe, started, release))
    wait_for(started, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    holder = json.loads((out / LOCK).read_text())
    assert holder["pid"] == proc.pid  # the file is still there, naming a dead process
    resumed = subprocess.run(cli("-q", "run", recipe, "--no-progress"), capture_output=True,
                             text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert files(out) == expected


def _recipe(tmp_path, out):
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"caption": f"kite {i}"}) + "\n" for i in range(5)))
    return {"source": {"name": "jsonl", "path": str(items)},
            "generator": {"name": "prompt", "template": "Describe {caption}."},
            "backend": "fake", "output_dir": str(out), "cache": {"enabled": False}}


def test_the_lock_is_held_for_the_run_and_released_when_it_ends(tmp_path):
    out = tmp_path / "out"
    the_plan, registry = plan(_recipe(tmp_path, out), autoload=False)
    stream = Runner(the_plan, registry).records()
    next(stream)  # the run is under way in this process
    with pytest.raises(RunDirLocked, match=rf"pid {os.getpid()} on host"):
        RunDirLock.acquire(out)
    stream.close()  # the run ends early: its lock goes
    RunDirLock.acquire(out).release()
    summary = instructgen.run(_recipe(tmp_path, out), autoload=False)
    assert summary.status == "finished" and summary.accepted == 5


def _no_model(*_args, **_kwargs):
    raise AssertionError("a model was loaded before the output directory was checked")


@pytest.mark.reliability(
    failure="an output_dir that cannot be created (a missing or pseudo file system, e.g. "
            "/proc/nope)",
    user_sees="one line: `…: cannot create the output directory (No such file or directory)`,"
              " before any model is loaded",
    exit_code=2, kept="nothing is written")
def test_an_output_dir_that_cannot_be_created_exits_2_before_loading_a_model(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("instructgen.runner.choose_engine", _no_model)
    recipe = _toml(tmp_path, "/proc/nope/out")
    assert main(["run", str(recipe)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("instructgen: error: /proc/nope/out: cannot create the output directory "
                   "(No such file or directory)")


@pytest.mark.reliability(
    failure="an output_dir below a regular file",
    user_sees="one line: `…: cannot create the output directory (Not a directory)`, before "
              "any model is loaded",
    exit_code=2, kept="the file is untouched; nothing is written")
def test_an_output_dir_below_a_file_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("instructgen.runner.choose_engine", _no_model)
    blocker = tmp_path / "plain.txt"
    blocker.write_text("keep me\n")
    recipe = _toml(tmp_path, blocker / "out")
    assert main(["run", str(recipe)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"instructgen: error: {blocker / 'out'}: cannot create the output "
                   "directory (Not a directory)")
    assert blocker.read_text() == "keep me\n"


def _toml(tmp_path, out) -> os.PathLike:
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"caption": f"kite {i}"}) + "\n" for i in range(5)))
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'output_dir = "{out}"\n[source]\nname = "jsonl"\npath = "{items}"\n'
                      '[generator]\nname = "prompt"\ntemplate = "Describe {caption}."\n'
                      '[backend]\nname = "fake"\n[cache]\nenabled = false\n')
    return recipe


@pytest.mark.reliability(
    failure="an output_dir without write permission (or on a read-only mount)",
    user_sees="one line: `…: cannot write to the output directory (Permission denied)`, "
              "before any model is loaded",
    exit_code=2, kept="whatever the directory holds is untouched")
def test_an_output_dir_without_write_permission_exits_2(tmp_path, monkeypatch):
    monkeypatch.setattr("instructgen.runner.choose_engine", _no_model)
    base = shared_dir(tmp_path, "readonly-output")
    try:
        out = base / "out"
        out.mkdir()
        (out / "notes.txt").write_text("mine\n")
        out.chmod(0o555)
        recipe = _toml(base, out)

        def attempt():
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                code = main(["run", str(recipe)])
            return code, err.getvalue()

        code, err = as_unprivileged(attempt)
        assert code == 2, err
        assert err.strip() == (f"instructgen: error: {out}: cannot write to the output "
                               "directory (Permission denied)")
        assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    finally:
        shutil.rmtree(base)


@pytest.mark.slow
def test_with_the_ray_engine_the_driver_holds_the_lock_for_the_whole_run(local_ray, tmp_path):
    out = tmp_path / "out"
    recipe = {**_recipe(tmp_path, out), "engine": {"kind": "ray", "actors": 1, "items_per_task": 2}}
    the_plan, registry = plan(recipe, autoload=False)
    stream = Runner(the_plan, registry).records()
    first = next(stream)  # records come back from the Ray actors to this driver process
    assert first.item_id == "1"
    with pytest.raises(RunDirLocked, match=rf"pid {os.getpid()} on host"):
        RunDirLock.acquire(out)
    assert len(list(stream)) == 4  # the rest of the run, still under the lock
    RunDirLock.acquire(out).release()  # released when the run ended


@pytest.mark.reliability(
    failure="a disk that is already full when a run starts",
    user_sees="one line: `…: cannot write to the output directory (No space left on device)`, "
              "before any model is loaded",
    exit_code=2, kept="whatever the directory holds is untouched")
def test_a_full_disk_at_the_start_exits_2_before_loading_a_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("instructgen.runner.choose_engine", _no_model)
    out = tmp_path / "out"
    recipe = _toml(tmp_path, out)

    def full(*_args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "pwrite", full)  # the lock file gets the run's pid first
    assert main(["run", str(recipe)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"instructgen: error: {out}: cannot write to the output directory (No space left on "
        "device)")
    assert [p.name for p in out.iterdir()] == [LOCK]
