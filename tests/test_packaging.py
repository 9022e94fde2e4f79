"""The wheel holds all three import packages, and the base install stays light."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_core_plugins_and_backends(tmp_path):
    pytest.importorskip("setuptools")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    (wheel,) = tmp_path.glob("instructgen-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for required in ("instructgen/__init__.py", "instructgen/runner.py",
                     "instructgen/cli/__init__.py", "instructgen/plugins/__init__.py",
                     "instructgen/plugins/io.py", "instructgen/backends/__init__.py",
                     "instructgen/backends/fake.py"):
        assert required in names, required
    # every folder of the source tree that holds Python made it into the wheel
    for folder, package in (("core", "instructgen"), ("plugins", "instructgen/plugins"),
                            ("backends", "instructgen/backends")):
        for py in (ROOT / folder).rglob("*.py"):
            rel = py.relative_to(ROOT / folder).as_posix()
            assert f"{package}/{rel}" in names, f"{folder}/{rel} missing from the wheel"
    meta = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "Requires-Python: >=3.11" in text
    assert "Requires-Dist: torch" in text and "extra == \"transformers\"" in text
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry).decode()
    assert "instructgen = instructgen.cli:console_main" in scripts


def test_import_does_not_pull_heavy_dependencies():
    code = ("import sys, instructgen, instructgen.backends, instructgen.plugins;"
            "reg = instructgen.make_registry(); reg.get_backends(); reg.get_generators();"
            "heavy = [m for m in ('torch', 'transformers', 'llama_cpp', 'llguidance') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
