"""A damaged run directory is named on one line (exit 2), and nothing in it is changed."""

from __future__ import annotations

import pytest
from rundir_helpers import setup

from instructgen.cli import main

N = 20


def _finished_half(tmp_path):
    recipe, out = setup(tmp_path, "run", n=N)
    assert main(["-q", "run", str(recipe), "--no-progress", "--set", "limit=10"]) == 0
    return recipe, out


def _snapshot(out):
    """The run directory's files, less the lock file (each run writes its pid there)."""
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())
            if p.is_file() and p.name != ".instructgen.lock"}


@pytest.mark.reliability(
    failure="a run file shorter than state.json says (cut by hand, restored from an old copy)",
    user_sees="one line: `…/records.jsonl: shorter than state.json says (N < M bytes), so "
              "committed lines were lost; rerun with --fresh`",
    exit_code=2, kept="every file as it is; nothing is cut or padded")
def test_a_run_file_shorter_than_its_state_is_refused(tmp_path, capsys):
    recipe, out = _finished_half(tmp_path)
    records = out / "records.jsonl"
    data = records.read_bytes()
    records.write_bytes(data[: len(data) // 2])
    before = _snapshot(out)
    capsys.readouterr()
    assert main(["-q", "run", str(recipe), "--no-progress"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (f"instructgen: error: {records}: shorter than state.json says "
                    f"({len(data) // 2} < {len(data)} bytes), so committed lines were lost; "
                    "rerun with --fresh")
    assert _snapshot(out) == before
    assert main(["-q", "run", str(recipe), "--no-progress", "--fresh"]) == 0


@pytest.mark.reliability(
    failure="a manifest.json that is not JSON",
    user_sees="one line: `…/manifest.json: unreadable manifest (…); rerun with --fresh`",
    exit_code=2, kept="every file as it is")
def test_an_unreadable_manifest_is_refused(tmp_path, capsys):
    recipe, out = _finished_half(tmp_path)
    (out / "manifest.json").write_text("{half a manifest")
    before = _snapshot(out)
    capsys.readouterr()
    assert main(["-q", "run", str(recipe), "--no-progress"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"instructgen: error: {out / 'manifest.json'}: unreadable manifest (")
    assert line.endswith("); rerun with --fresh")
    assert _snapshot(out) == before
