"""Refactors keep outputs byte-identical: every example recipe, run on the fake backend,
writes exactly the files recorded in ``tests/golden/``.

The golden files were written by the code before the issue-16 restructuring (runner
split, resolve-once registry, plugin families as packages). Rewrite them only for a
change that is meant to alter outputs, and say so in the commit::

    python tests/test_golden_outputs.py --write
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"
EXAMPLES = REPO / "examples"
#: Files a run writes whose bytes are the data; the manifest and state carry wall
#: times, and the lock carries a pid, so they are compared field by field instead.
TIMED = {"manifest.json", "state.json", ".instructgen.lock"}
#: Manifest keys that hold wall times, speeds and the temporary run folder.
VOLATILE = {"sessions", "throughput", "started_at", "finished_at", "run_dir", "output_dir"}


def _recipes() -> list[Path]:
    return sorted(p for p in EXAMPLES.glob("*/*.toml") if "plugin-example" not in str(p))


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in sorted(value.items()) if k not in VOLATILE}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def run_example(recipe_path: Path, out: Path) -> dict[str, bytes]:
    """Run one example recipe on the fake backend into ``out``; its files by name."""
    import instructgen
    from instructgen.backends.fake import FakeBackend, FakeOptions

    recipe = tomllib.loads(recipe_path.read_text())
    recipe["backend"] = {"name": "fake"}
    recipe["output_dir"] = str(out)
    recipe["cache"] = {"enabled": False}  # a warm call cache would change the manifest counts
    cwd = Path.cwd()
    os.chdir(REPO)  # example recipes name their data relative to the repository
    try:
        instructgen.run(recipe, backend=FakeBackend(FakeOptions()), autoload=False)
    finally:
        os.chdir(cwd)
    files: dict[str, bytes] = {}
    for path in sorted(out.rglob("*")):
        if not path.is_file() or path.name == ".instructgen.lock":
            continue
        rel = path.relative_to(out).as_posix()
        data = path.read_bytes()
        if path.name in TIMED:
            data = json.dumps(_scrub(json.loads(data)), indent=1, sort_keys=True).encode()
        files[rel] = data
    return files


def _name(recipe_path: Path) -> str:
    return f"{recipe_path.parent.name}-{recipe_path.stem}"


@pytest.mark.parametrize("recipe_path", _recipes(), ids=_name)
def test_example_outputs_match_the_golden_files(recipe_path: Path, tmp_path: Path) -> None:
    golden = GOLDEN / _name(recipe_path)
    if not golden.is_dir():
        pytest.fail(f"no golden files for {recipe_path.name}: run "
                    "`python tests/test_golden_outputs.py --write` and review the diff")
    got = run_example(recipe_path, tmp_path / "out")
    want = {p.relative_to(golden).as_posix(): p.read_bytes()
            for p in sorted(golden.rglob("*")) if p.is_file()}
    assert sorted(got) == sorted(want), "the run wrote a different set of files"
    for rel, data in want.items():
        assert got[rel] == data, f"{_name(recipe_path)}/{rel} differs from the golden file"


def _write(dest: Path) -> None:
    import tempfile

    for recipe_path in _recipes():
        with tempfile.TemporaryDirectory() as tmp:
            files = run_example(recipe_path, Path(tmp) / "out")
        target = dest / _name(recipe_path)
        shutil.rmtree(target, ignore_errors=True)
        for rel, data in files.items():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_bytes(data)
        print(f"{target}: {len(files)} files")


if __name__ == "__main__":
    if sys.argv[1:2] != ["--write"]:
        sys.exit("usage: python tests/test_golden_outputs.py --write [DEST]")
    _write(Path(sys.argv[2]) if len(sys.argv) > 2 else GOLDEN)
