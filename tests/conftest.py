"""Shared fixtures: the plugin-author kit, plus an isolated cache per test."""

import pytest

pytest_plugins = ["instructgen.testing"]


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
