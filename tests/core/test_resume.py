"""Crash safety: kill -9 a real run at many points; the result must not change."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from rundir_helpers import as_from_a_terminal, files, setup, strike_at_checkpoints


def _setup(tmp_path: Path, name: str) -> tuple[Path, Path]:
    # 120 items, every 7th rejected, a fake backend slow enough to be killed mid-run
    return setup(tmp_path, name, n=120, delay=0.05)


def _cmd(recipe: Path) -> list[str]:
    return [sys.executable, "-m", "instructgen", "-q", "run", str(recipe), "--no-progress"]


@pytest.mark.reliability(
    failure="kill -9, the OOM killer or a power cut at any moment (mid-batch, mid-write, "
            "mid-checkpoint)",
    user_sees="the shell's `Killed`; rerunning the same command resumes where the files end",
    exit_code=137,
    kept="every item committed before the kill; the rerun's files are byte-identical to an "
         "uninterrupted run")
@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_gives_identical_files(tmp_path):
    recipe, out = _setup(tmp_path, "clean")
    subprocess.run(_cmd(recipe), check=True, timeout=120)
    expected = files(out)
    assert expected["records.jsonl"].count(b"\n") == 120 - 17
    assert expected["rejects.jsonl"].count(b"\n") == 17

    recipe, out = _setup(tmp_path, "killed")
    # Killed on a checkpoint it has seen, a few items further each time (seeded), so
    # the kill lands between batches, mid-write or mid-checkpoint; then run to the end.
    strikes = strike_at_checkpoints(_cmd(recipe), out, signal.SIGKILL, seed=1234)
    kills = [s for s in strikes if s.returncode == -signal.SIGKILL]  # 137 in a shell
    assert len(kills) >= 2, "the run finished before it could be killed; slow the fake backend"
    assert all(s.struck_at is not None for s in kills)
    for struck, rerun in itertools.pairwise(strikes):  # nothing committed is lost
        assert rerun.start >= (struck.struck_at or struck.start)
    assert files(out) == expected
    done = subprocess.run(_cmd(recipe), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "nothing to do" in done.stderr


@pytest.mark.reliability(
    failure="Ctrl-C (SIGINT) during a run",
    user_sees="one line: `instructgen: interrupted; finished work is saved, rerun the same "
              "command to resume`; manifest status `interrupted`",
    exit_code=130,
    kept="every item finished before Ctrl-C; the rerun's files are byte-identical to an "
         "uninterrupted run")
@pytest.mark.slow
def test_ctrl_c_saves_finished_work_and_the_rerun_completes(tmp_path):
    recipe, out = _setup(tmp_path, "clean")
    subprocess.run(_cmd(recipe), check=True, timeout=120)
    expected = files(out)
    recipe, out = _setup(tmp_path, "interrupted")
    # The fake backend holds its 6th batch until SIGINT and says so on stdout: the
    # signal always lands mid-run, whatever the machine's speed (no timing race).
    gated = [sys.executable, str(Path(__file__).with_name("gated_cli.py")), "6",
             *_cmd(recipe)[3:]]
    proc = subprocess.Popen(gated, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=as_from_a_terminal)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "gate-closed", proc.communicate(timeout=60)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip() == ("instructgen: interrupted; finished work is saved, rerun the same "
                           "command to resume")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    state = json.loads((out / "state.json").read_text())
    assert 0 < state["committed_items"] < 120
    assert (out / "records.jsonl").read_bytes().count(b"\n") <= state["committed_items"]
    subprocess.run(_cmd(recipe), check=True, timeout=120)
    assert files(out) == expected
