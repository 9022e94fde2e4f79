"""Shared fixtures: the plugin-author kit, plus an isolated cache per test."""

import importlib.util
import sys
from pathlib import Path

import pytest

pytest_plugins = ["instructgen.testing"]

TESTS = Path(__file__).resolve().parent

#: Folders holding helper modules that tests import by bare name from *other* folders
#: (``from edit_fakes import ...`` in tests/anyedit, ``from rundir_helpers import ...``
#: in tests/engines, ``from report_runs import answer`` in tests/review). pytest's
#: prepend import mode puts only each collected test file's own folder on sys.path,
#: so whether such an import worked would depend on which tests were collected first;
#: they are put on sys.path here, once, for every selection. Appended, so no helper
#: folder can shadow an installed package.
HELPER_FOLDERS = ("core", "edits", "engines", "report")
for _folder in HELPER_FOLDERS:
    if str(TESTS / _folder) not in sys.path:
        sys.path.append(str(TESTS / _folder))

# pytest puts tests/ itself on sys.path (for this conftest), and tests/datasets and
# tests/io are folders there. A regular package (the Hugging Face ``datasets``,
# the standard ``io``) wins over a folder without __init__.py wherever it stands on
# sys.path, but where the datasets extra is not installed ``import datasets`` would
# give the empty namespace package tests/datasets instead of an ImportError. Make it
# fail as it does outside the test tree.
_datasets = importlib.util.find_spec("datasets")
if _datasets is not None and _datasets.origin in (None, "namespace") and all(
        Path(place).is_relative_to(TESTS) for place in _datasets.submodule_search_locations or ()):
    sys.modules["datasets"] = None  # type: ignore[assignment]


@pytest.fixture(scope="session")
def _session_probe_cache(tmp_path_factory: pytest.TempPathFactory):
    """One llama.cpp crash-probe verdict per test session, as on a user's machine."""
    return tmp_path_factory.mktemp("probe-cache") / "native-probes.json"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
                   _session_probe_cache):
    """Keep caches and sha256 memos out of the real home directory."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("INSTRUCTGEN_PROBE_CACHE", str(_session_probe_cache))
    monkeypatch.setenv("INSTRUCTGEN_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("INSTRUCTGEN_DISABLE_PLUGINS", raising=False)


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory: pytest.TempPathFactory):
    """A local 2-CPU Ray instance per test module (starting one takes seconds).

    Actors get their own cache folder and no entry-point plugins, like the tests'
    own process. ``ray.init`` installs its own SIGTERM handler in this process;
    it is put back afterwards, so later signal tests see the default.
    """
    import signal

    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'instructgen[ray]')")
    if ray.is_initialized():
        ray.shutdown()
    sigterm = signal.getsignal(signal.SIGTERM)
    cache = tmp_path_factory.mktemp("ray-xdg-cache")
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {
        "XDG_CACHE_HOME": str(cache), "INSTRUCTGEN_DISABLE_PLUGIN_AUTOLOAD": "1"}})
    yield ray
    ray.shutdown()
    signal.signal(signal.SIGTERM, sigterm)
