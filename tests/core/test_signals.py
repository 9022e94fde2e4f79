"""SIGTERM and SIGHUP are handled like Ctrl-C: work saved, status interrupted, exact resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
from rundir_helpers import (
    as_from_a_terminal,
    cli,
    files,
    gated_cli,
    run_status,
    setup,
    strike_at_checkpoints,
    wait_for,
)

import instructgen
from instructgen import rundir
from instructgen import runner as runner_module
from instructgen.errors import Terminated
from instructgen.rundir import Journal


def _state_matches_files(out):
    """Every run file ends exactly where state.json says: no partial or extra line."""
    state = json.loads((out / "state.json").read_text())
    for name, size in state["files"].items():
        assert (out / name).stat().st_size == size, name
    return state


@pytest.mark.parametrize("sig, code", [
    pytest.param(signal.SIGTERM, 143, marks=pytest.mark.reliability(
        failure="SIGTERM, as Slurm, Kubernetes or systemd send before they kill a job",
        user_sees="one line: `instructgen: stopped by SIGTERM; finished work is saved, rerun "
                  "the same command to resume`; manifest status `interrupted`",
        exit_code=143,
        kept="every item finished before the signal; the rerun's files are byte-identical to "
             "an uninterrupted run")),
    pytest.param(signal.SIGHUP, 129, marks=pytest.mark.reliability(
        failure="SIGHUP: the terminal or SSH session of a foreground run closes",
        user_sees="one line: `instructgen: stopped by SIGHUP; finished work is saved, rerun the "
                  "same command to resume`; manifest status `interrupted`",
        exit_code=129,
        kept="every item finished before the signal; the rerun's files are byte-identical to "
             "an uninterrupted run")),
])
@pytest.mark.slow
def test_a_termination_signal_saves_finished_work_like_ctrl_c(tmp_path, sig, code):
    recipe, out = setup(tmp_path, "clean", n=40)
    subprocess.run(cli("-q", "run", recipe, "--no-progress"), check=True, timeout=120)
    expected = files(out)
    recipe, out = setup(tmp_path, "stopped", n=40)
    started = tmp_path / "started"
    # The 5th batch is held until the signal: four batches (16 items) are answered.
    proc = subprocess.Popen(gated_cli(5, started, "-q", "run", recipe, "--no-progress"),
                            stderr=subprocess.PIPE, text=True, preexec_fn=as_from_a_terminal)
    wait_for(started, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    name = signal.Signals(sig).name
    assert err.strip() == (f"instructgen: stopped by {name}; finished work is saved, rerun the "
                           "same command to resume")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert manifest["message"] == f"stopped by {name}; rerun the same command to resume"
    state = _state_matches_files(out)
    assert 16 <= state["committed_items"] < 40
    rerun = subprocess.run(cli("-q", "run", recipe, "--no-progress"), capture_output=True,
                           text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert files(out) == expected


@pytest.mark.slow
def test_sigterm_at_random_points_then_resume_gives_identical_files(tmp_path):
    recipe, out = setup(tmp_path, "clean", n=120, delay=0.05)
    subprocess.run(cli("-q", "run", recipe, "--no-progress"), check=True, timeout=120)
    expected = files(out)
    recipe, out = setup(tmp_path, "termed", n=120, delay=0.05)

    def check(strike):
        """Each stop, before the next attempt resumes it: saved, interrupted, exact."""
        finished = run_status(out) == "finished"
        if strike.returncode == 143:
            assert "stopped by SIGTERM; finished work is saved" in strike.stderr
            assert run_status(out) == "interrupted"
            assert _state_matches_files(out)["committed_items"] >= strike.struck_at
        elif strike.returncode == -signal.SIGTERM:  # it came after the run, as Python exited
            assert finished, strike.stderr
        else:
            assert strike.returncode == 0 and finished, strike.stderr

    # SIGTERM on a checkpoint it has seen, a few items further each time (seeded): between
    # batches, between two lines of one item, or inside a commit.
    strikes = strike_at_checkpoints(cli("-q", "run", recipe, "--no-progress"), out,
                                    signal.SIGTERM, seed=4321, after=check)
    stops = sum(s.returncode == 143 for s in strikes)
    assert stops >= 2, "the run finished before it could be stopped; slow the fake backend"
    assert files(out) == expected


def _recipe(tmp_path, name):
    recipe, out = setup(tmp_path, name, n=30)
    return recipe, out


@pytest.fixture
def default_sigterm():
    """SIGTERM at its default for the test, as in a process started from a terminal.

    A suite started with SIGTERM ignored (``trap '' TERM``, some job runners) hands
    that on to this process; the run rightly leaves an ignored signal alone, so the
    test puts the default back for its own length. A real handler someone installed
    is not ours to replace: then the test skips.
    """
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, signal.SIG_IGN):
        pytest.skip("SIGTERM already has a handler in this process; the run leaves it alone")
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("at_write", [1, 2, 3, 8, 9, 20])
def test_a_signal_between_two_lines_of_one_item_keeps_the_files_exact(
        tmp_path, monkeypatch, default_sigterm, at_write):
    recipe, out = _recipe(tmp_path, "clean")
    instructgen.run(recipe, autoload=False)
    expected = files(out)
    recipe, out = _recipe(tmp_path, "stopped")
    original, writes = Journal.write, []

    def write(self, name, line):
        writes.append(name)
        if len(writes) == at_write:
            signal.raise_signal(signal.SIGTERM)  # lands right after the previous line
        original(self, name, line)

    monkeypatch.setattr(Journal, "write", write)
    with pytest.raises(Terminated):
        instructgen.run(recipe, autoload=False)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler is put back
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    _state_matches_files(out)
    monkeypatch.setattr(Journal, "write", original)
    instructgen.run(recipe, autoload=False)
    assert files(out) == expected


def test_a_signal_inside_a_commit_and_a_second_one_while_saving(
        tmp_path, monkeypatch, default_sigterm):
    recipe, out = _recipe(tmp_path, "clean")
    instructgen.run(recipe, autoload=False)
    expected = files(out)
    recipe, out = _recipe(tmp_path, "stopped")
    original, calls = Journal._os_write, []

    def os_write(fd, data, at):
        calls.append(at)
        written = original(fd, data[: len(data) // 2] if len(calls) == 1 else data, at)
        if len(calls) in (1, 2):  # mid-way through the first commit, then while saving
            signal.raise_signal(signal.SIGTERM)
        return written

    monkeypatch.setattr(Journal, "_os_write", staticmethod(os_write))
    monkeypatch.setattr(runner_module, "_COMMIT_EVERY_S", 0.0)  # a commit after each item
    with pytest.raises(Terminated):
        instructgen.run(recipe, autoload=False)
    assert len(calls) >= 3  # the save went on after the second signal
    assert calls[1] == calls[0]  # the cut commit was done again at the same offset
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    _state_matches_files(out)
    monkeypatch.setattr(Journal, "_os_write", staticmethod(original))
    instructgen.run(recipe, autoload=False)
    assert files(out) == expected


@pytest.mark.slow
def test_sigterm_stops_a_ray_engine_run_like_ctrl_c(tmp_path):
    """ray.init puts its own SIGTERM handler (sys.exit) in the driver; the run takes it back."""
    pytest.importorskip("ray", reason="Ray is not installed (the ray extra)")
    recipe, out = setup(tmp_path, "ray", n=400, delay=0.05)
    [strike] = strike_at_checkpoints(cli("-q", "run", recipe, "--no-progress", "--engine", "ray"),
                                     out, signal.SIGTERM, seed=0, steps=(1, 1), attempts=1,
                                     finish=False, timeout=180)
    assert strike.struck_at is not None and strike.returncode == 143, strike.stderr
    assert strike.stderr.strip().splitlines()[-1] == (
        "instructgen: stopped by SIGTERM; finished work is saved, rerun the same command to "
        "resume")
    assert run_status(out) == "interrupted"
    _state_matches_files(out)


def _commit_lines(recipe, monkeypatch):
    """Every (code, line) that the third commit of a run executes, in order."""
    codes = {Journal.commit.__code__, Journal._put.__code__, rundir.write_json_atomic.__code__}
    seen, commits = [], []

    def tracer(frame, event, _arg):
        if frame.f_code is Journal.commit.__code__ and event == "call":
            commits.append(1)
        if frame.f_code not in codes:
            return None
        if event == "line" and len(commits) == 3:
            seen.append((frame.f_code, frame.f_lineno))
        return tracer

    sys.settrace(tracer)
    try:
        instructgen.run(recipe, autoload=False)
    finally:
        sys.settrace(None)
    return list(dict.fromkeys(seen))


@pytest.mark.slow
def test_a_signal_at_any_line_of_a_commit_keeps_the_files_exact(tmp_path, monkeypatch):
    """Terminated raised before each line a commit runs; the run saves, the rerun is exact."""
    monkeypatch.setattr(runner_module, "_COMMIT_EVERY_S", 0.0)  # a commit after each item
    recipe, out = setup(tmp_path, "clean", n=8)
    points = _commit_lines(recipe, monkeypatch)
    expected = files(out)
    assert len(points) > 15
    for k, (code, line) in enumerate(points):
        recipe, out = setup(tmp_path, f"stopped{k}", n=8)
        commits = []

        def tracer(frame, event, _arg, code=code, line=line, commits=commits):
            if frame.f_code is Journal.commit.__code__ and event == "call":
                commits.append(1)
            if frame.f_code is not code:
                return None
            if event == "line" and frame.f_lineno == line and len(commits) == 3:
                raise Terminated(signal.SIGTERM)  # as the handler would, right here
            return tracer

        sys.settrace(tracer)
        try:
            with pytest.raises(Terminated):
                instructgen.run(recipe, autoload=False)
        finally:
            sys.settrace(None)
        where = f"{code.co_name}:{line}"
        assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted", where
        _state_matches_files(out)
        assert not list(out.glob(".state.json.*.tmp")), where
        instructgen.run(recipe, autoload=False)
        assert files(out) == expected, where


@pytest.mark.slow
def test_sigterm_to_the_process_group_stops_a_replica_run_without_worker_deaths(tmp_path):
    """A job scheduler signals every process of the job; the workers leave it to the parent."""
    recipe, out = setup(tmp_path, "replicas", n=400, delay=0.05)
    [strike] = strike_at_checkpoints(cli("-q", "run", recipe, "--no-progress", "--set",
                                         "backend.replicas=2"),
                                     out, signal.SIGTERM, seed=0, steps=(1, 1), attempts=1,
                                     group=True, finish=False, timeout=180)
    err = strike.stderr
    assert strike.struck_at is not None and strike.returncode == 143, err
    assert "worker died" not in err and "worker exited" not in err, err
    assert err.strip().splitlines()[-1] == ("instructgen: stopped by SIGTERM; finished work is "
                                            "saved, rerun the same command to resume")
    assert run_status(out) == "interrupted"
    _state_matches_files(out)
