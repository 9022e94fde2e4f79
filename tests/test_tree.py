"""The test folders follow the package families, and that costs nothing on sys.path.

tests/datasets and tests/io are named like packages (the Hugging Face ``datasets``,
the standard ``io``); pytest puts tests/ on sys.path, so these check that the real
packages still win. Helpers imported by bare name from another folder must import
with only that folder's tests collected (tests/conftest.py, ``HELPER_FOLDERS``).
"""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def test_import_datasets_is_never_the_tests_folder():
    try:
        import datasets
    except ImportError:
        return  # the datasets extra is not installed: that is what every test sees
    assert getattr(datasets, "__file__", None), f"a namespace package: {datasets.__path__}"
    assert not Path(datasets.__file__).resolve().is_relative_to(TESTS)
    assert hasattr(datasets, "load_from_disk")


def test_import_io_is_the_standard_library():
    assert hasattr(io, "StringIO") and not getattr(io, "__path__", None)  # not a folder


@pytest.mark.parametrize("helper", ["edit_fakes", "rundir_helpers", "scale_setup",
                                    "crash_backend", "fake_hub", "recipe_checks"])
def test_every_shared_helper_imports_by_bare_name(helper):
    module = importlib.import_module(helper)
    assert Path(module.__file__).resolve().is_relative_to(TESTS)


@pytest.mark.slow
@pytest.mark.parametrize("folder", ["anyedit", "engines", "io", "datasets"])
def test_each_moved_folder_collects_alone(folder):
    """Collected alone, a folder's tests find the helpers of other folders they import."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--collect-only", str(TESTS / folder)],
                          capture_output=True, text=True, timeout=300, cwd=TESTS.parent)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "error" not in done.stdout.splitlines()[-1]
