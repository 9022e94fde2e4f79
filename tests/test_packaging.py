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
                     "instructgen/plugins/io/__init__.py", "instructgen/backends/__init__.py",
                     "instructgen/backends/fake.py",
                     # package data: the review page's template (instructgen review)
                     "instructgen/report/review_page.html"):
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


_BLOCKED = ("numpy", "jinja2", "rapidfuzz", "pyarrow", "torch", "transformers", "llama_cpp",
            "llguidance", "ray", "matplotlib", "datasets", "spacy")

_BASE_INSTALL = """
import builtins, json, sys
blocked = set(sys.argv[1].split(","))
real = builtins.__import__
def guard(name, *args, **kwargs):
    if name.split(".")[0] in blocked:
        raise ImportError(f"{name} is not part of the base install")
    return real(name, *args, **kwargs)
builtins.__import__ = guard
import instructgen
reg = instructgen.make_registry(autoload=False)
kinds = {k: sorted(reg.plugins(k)) for k in ("source", "generator", "postprocessor", "sink",
                                             "backend")}
summary = instructgen.run({
    "source": {"name": "jsonl", "path": sys.argv[2]},
    "generator": {"name": "prompt", "template": "Say {caption}."},
    "postprocess": [{"name": "dedup"}],
    "backend": "fake", "output_dir": sys.argv[3], "cache": {"enabled": False},
}, autoload=False)
print(json.dumps({"kinds": kinds, "accepted": summary.accepted}))
"""


@pytest.mark.slow
def test_base_install_works_without_any_optional_library(tmp_path):
    """Only pluggy, attrs, cattrs, structlog and rich: every plugin loads, a run works."""
    items = tmp_path / "items.jsonl"
    items.write_text('{"caption": "a cat"}\n{"caption": "a dog"}\n')
    out = subprocess.run(
        [sys.executable, "-c", _BASE_INSTALL, ",".join(_BLOCKED), str(items),
         str(tmp_path / "run")],
        capture_output=True, text=True, check=True,
    ).stdout
    import json

    result = json.loads(out.strip().splitlines()[-1])
    assert result["accepted"] == 2
    assert {"llamacpp", "transformers", "fake"} <= set(result["kinds"]["backend"])
    assert {"edit", "c2cap", "implicit", "prompt"} <= set(result["kinds"]["generator"])


@pytest.mark.slow
def test_import_does_not_pull_heavy_dependencies():
    code = ("import sys, instructgen, instructgen.backends, instructgen.plugins;"
            "reg = instructgen.make_registry(); reg.plugins('backend'); reg.plugins('generator');"
            "heavy = [m for m in ('torch', 'transformers', 'llama_cpp', 'llguidance') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
