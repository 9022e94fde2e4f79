"""The shape holds: ruff and mypy find nothing, run by the README's test command.

``.ci/run`` runs the README's test command line for line (``tests/test_ci.py``), so
these two checks run in CI beside every other test, and whoever runs that command
at home gets the same verdict. mypy's settings live in ``pyproject.toml``
(``[tool.mypy]``): strict on ``core/``, which holds the plugin contracts.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Where mypy reads the package: ``instructgen`` is assembled from three folders
#: (``package-dir`` in pyproject.toml), and mypy follows no editable-install hook,
#: so it reads a tree of links with the import package's shape. ``build/`` is ignored
#: by git; mypy keeps its cache there too, so a second run is quick.
SHADOW = ROOT / "build" / "typecheck"
#: Import package -> source folder, as ``[tool.setuptools] package-dir`` maps them.
FOLDERS = {"instructgen": "core", "instructgen/plugins": "plugins",
           "instructgen/backends": "backends"}


def _needs(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (it comes with the test extra: "
                    f"pip install -e '.[test]')")


def link_tree(shadow: Path) -> Path:
    """Link ``core/``'s entries as ``instructgen/`` and the two families inside it."""
    package = shadow / "instructgen"
    if package.exists():
        shutil.rmtree(package)
    package.mkdir(parents=True)
    for entry in sorted((ROOT / FOLDERS["instructgen"]).iterdir()):
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for inside, folder in FOLDERS.items():
        if inside != "instructgen":
            (shadow / inside).symlink_to(ROOT / folder, target_is_directory=True)
    return package


def _in_source_terms(report: str) -> str:
    """mypy's paths as the repository spells them (``core/plan.py``, ``plugins/...``)."""
    for inside, folder in sorted(FOLDERS.items(), key=lambda kv: -len(kv[0])):
        report = report.replace(f"{inside}/", f"{folder}/")
    return report


def test_ruff_finds_nothing():
    _needs("ruff")
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


@pytest.mark.slow
def test_mypy_finds_nothing():
    _needs("mypy")
    link_tree(SHADOW)
    out = subprocess.run([sys.executable, "-m", "mypy", "--config-file",
                          str(ROOT / "pyproject.toml"), "--cache-dir", str(SHADOW / ".cache"),
                          "-p", "instructgen"],
                         cwd=SHADOW, capture_output=True, text=True, timeout=1500)
    assert out.returncode == 0, _in_source_terms(out.stdout[-8000:] + out.stderr[-2000:])


def test_the_link_tree_has_the_import_packages_shape(tmp_path):
    package = link_tree(tmp_path)
    assert (package / "plugin.py").resolve() == ROOT / "core" / "plugin.py"
    assert (package / "plugins" / "__init__.py").resolve() == ROOT / "plugins" / "__init__.py"
    assert (package / "backends" / "__init__.py").resolve() == ROOT / "backends" / "__init__.py"
    assert not (package / "__pycache__").exists()
    assert _in_source_terms("instructgen/plugins/io/hub.py:3: error") == \
        "plugins/io/hub.py:3: error"
    assert _in_source_terms("instructgen/plan.py:1: error") == "core/plan.py:1: error"
