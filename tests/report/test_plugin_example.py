"""The example plugin package, installed for real: seen by ``instructgen plugins``, its
recipe runs through the CLI, and its own tests pass on the plugin-author kit."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "instructgen-plugin-example"
DIST = "instructgen-plugin-example"

pytestmark = pytest.mark.slow


def _installed() -> bool:
    try:
        importlib.metadata.distribution(DIST)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _sh(*args: str, cwd: Path = REPO, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "INSTRUCTGEN_DISABLE_PLUGIN_AUTOLOAD"}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def example_installed():
    """Install the example (editable, no deps) for this module; uninstall if we installed it."""
    was_there = _installed()
    _sh(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
        "--no-build-isolation", "-e", str(EXAMPLE))
    yield
    if not was_there:
        _sh(sys.executable, "-m", "pip", "uninstall", "--quiet", "-y", DIST)


def test_plugins_command_lists_all_three_parts_with_their_distribution(example_installed):
    rows = json.loads(_sh(sys.executable, "-m", "instructgen", "plugins", "--json").stdout)
    found = {(r["kind"], r["name"]): (r["dist"], r["version"]) for r in rows}
    assert found[("source", "tsv_captions")] == (DIST, "0.1.0")
    assert found[("postprocessor", "word_blocklist")] == (DIST, "0.1.0")
    # edit types are not plugins of their own: the edit generator must resolve the new one
    check = _sh(sys.executable, "-c",
                "from instructgen import make_registry\n"
                "from instructgen.plugins.edits import get_edit_types\n"
                "t = get_edit_types(make_registry())['expression_change']\n"
                "print(t.dist)")
    assert check.stdout.strip() == DIST


def test_the_example_recipe_runs_from_the_command_line(example_installed, tmp_path):
    out = tmp_path / "run"
    _sh(sys.executable, "-m", "instructgen", "run", str(EXAMPLE / "recipe.toml"),
        "--set", f"output_dir={json.dumps(str(out))}",
        "--set", f"cache.path={json.dumps(str(tmp_path / 'cache.sqlite'))}",
        "--no-progress", cwd=tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    assert manifest["plugins"]["source:tsv_captions"] == f"{DIST} 0.1.0"
    assert manifest["plugins"]["postprocessor:word_blocklist"] == f"{DIST} 0.1.0"
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert records and {r["data"]["edit_type"] for r in records} == {"expression_change"}
    rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    assert any(r["plugin"] == "word_blocklist" for r in rejects)
    # and the report of that run counts the new edit type
    _sh(sys.executable, "-c", "import sys; from instructgen.report import write_report; "
        "write_report([sys.argv[1]], charts=False)", str(out))
    assert f"| expression_change | {len(records)} (100.0%) |" in (out / "report.md").read_text()


def test_the_example_package_tests_pass(example_installed):
    _sh(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE),
        cwd=EXAMPLE)
