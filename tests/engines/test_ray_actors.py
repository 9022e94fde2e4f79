"""Ray actors live for the whole run: each loads its backend once, the probe loads none.

Backends are counted by an installed plugin (a throw-away dist-info on the
path of the driver and of every Ray worker) whose factory appends one line per
construction to a file, so the count is seen from outside the engine.
"""

from __future__ import annotations

import json
import signal

import pytest
from scale_setup import fake_recipe, manifest, output_files

from instructgen.api import plan
from instructgen.runner import Runner
from instructgen.testing import run_recipe

pytestmark = pytest.mark.slow

PLUGIN = '''
import fcntl
import os

import attrs

from instructgen.backends.fake import FakeBackend, FakeOptions
from instructgen.manager import hookimpl
from instructgen.plugin import BackendPlugin


def _count():
    """Append this construction to the log; how many came before it."""
    with open(os.environ["COUNTING_BACKEND_LOG"], "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        before = len(f.read().split())
        f.write(f"{os.getpid()}\\n")
    return before


def build(options):
    _count()
    return FakeBackend(options)


def build_mismatched(options):
    """Every construction a different identity, like nodes with different model files."""
    return FakeBackend(attrs.evolve(options, n_ctx=options.n_ctx + _count()))


def build_broken(options):
    from instructgen.errors import ModelNotFoundError

    _count()
    raise ModelNotFoundError("model 'nowhere.gguf' for backend broken_fake: no such file")


@hookimpl
def instructgen_backends():
    yield BackendPlugin(name="counting_fake", description="fake, counting constructions",
                        options=FakeOptions, factory=build)
    yield BackendPlugin(name="mismatched_fake", description="fake, one identity per build",
                        options=FakeOptions, factory=build_mismatched)
    yield BackendPlugin(name="broken_fake", description="a backend whose model is missing",
                        options=FakeOptions, factory=build_broken)
'''


@pytest.fixture(scope="module")
def counting_ray(tmp_path_factory):
    """A local Ray whose workers see the counting plugin, and the log it writes."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'instructgen[ray]')")
    root = tmp_path_factory.mktemp("counting-plugin")
    (root / "counting_backend.py").write_text(PLUGIN)
    info = root / "counting_backend-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: counting-backend\n"
                                   "Version: 1.0\n")
    (info / "entry_points.txt").write_text("[instructgen]\ncounting = counting_backend\n")
    log = root / "constructions.log"
    if ray.is_initialized():
        ray.shutdown()
    sigterm = signal.getsignal(signal.SIGTERM)  # ray.init replaces it; later tests need it
    cache = tmp_path_factory.mktemp("ray-xdg-cache")
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {
        "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(root),
        "COUNTING_BACKEND_LOG": str(log)}})
    yield root, log
    ray.shutdown()
    signal.signal(signal.SIGTERM, sigterm)


@pytest.fixture
def counting(counting_ray, monkeypatch):
    root, log = counting_ray
    monkeypatch.syspath_prepend(str(root))  # the driver sees the entry point too
    monkeypatch.delenv("INSTRUCTGEN_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.setenv("COUNTING_BACKEND_LOG", str(log))
    log.write_text("")
    return log


@pytest.mark.parametrize("items", [6, 90])
def test_each_actor_builds_its_backend_once_whatever_the_run_length(counting, tmp_path, items):
    # 90 items in blocks of 2 are 45 blocks: ~22 per actor, across what used to be many windows
    engine = {"kind": "ray", "actors": 2, "items_per_task": 2}
    recipe = fake_recipe(tmp_path, "ray", n=items, engine=engine,
                         backend={"name": "counting_fake", "delay": 0.0})
    the_plan, registry = plan(recipe, autoload=True)  # the counting plugin is an entry point
    summary = Runner(the_plan, registry).run()
    assert summary.status == "finished" and summary.items == items
    run_dir = tmp_path / "ray"
    builds = counting.read_text().split()
    assert len(builds) == 2, f"expected one backend per actor and no probe, got {builds}"
    assert len(set(builds)) == 2  # two actor processes, one build each
    loads = manifest(run_dir)["sessions"][-1]["model_load_s"]
    assert sorted(loads) == ["actor 0", "actor 1"]
    assert all(isinstance(v, float) and v >= 0 for v in loads.values())
    # the records are those of a local run on the plain fake backend
    local = run_recipe(fake_recipe(tmp_path, "local", n=items), tmp_path)
    assert output_files(run_dir)["output.jsonl"] == output_files(local.run_dir)["output.jsonl"]
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "finished"


@pytest.mark.reliability(
    failure="Ray actors build backends with different identities (nodes with different "
            "model files or library versions)",
    user_sees="one line before any item is sent: `Ray actor 1 (on HOST pid N) built backend "
              "{…} but actor 0 built {…}; install the same versions on every node`",
    exit_code=2, kept="nothing is generated; finished work of earlier sessions is untouched")
def test_actors_with_different_backends_stop_the_run_before_any_block(counting, tmp_path):
    from instructgen.errors import UserError

    engine = {"kind": "ray", "actors": 2, "items_per_task": 2}
    recipe = fake_recipe(tmp_path, "mixed", n=6, engine=engine,
                         backend={"name": "mismatched_fake"})
    the_plan, registry = plan(recipe, autoload=True)
    with pytest.raises(UserError, match=r"Ray actor 1 \(on .+\) built backend .+ but actor 0 "
                                        r"built .+; install the same versions on every node"):
        Runner(the_plan, registry).run()
    assert len(counting.read_text().split()) == 2  # no probe, no retry loop
    assert not (tmp_path / "mixed" / "records.jsonl").exists()


@pytest.mark.reliability(
    failure="the backend cannot be built on the Ray actors (a missing model, say)",
    user_sees="the backend's own one-line error, e.g. `model 'nowhere.gguf' for backend …: "
              "no such file`, before any item is sent",
    exit_code=2, kept="nothing is generated; finished work of earlier sessions is untouched")
def test_a_backend_that_cannot_be_built_on_actors_fails_once_with_its_own_error(counting,
                                                                                 tmp_path):
    from instructgen.errors import ModelNotFoundError

    engine = {"kind": "ray", "actors": 2, "items_per_task": 2}
    recipe = fake_recipe(tmp_path, "broken", n=6, engine=engine, backend={"name": "broken_fake"})
    the_plan, registry = plan(recipe, autoload=True)
    with pytest.raises(ModelNotFoundError, match=r"^model 'nowhere.gguf' for backend broken_fake"
                                                 r": no such file$"):
        Runner(the_plan, registry).run()
    assert len(counting.read_text().split()) == 2  # one attempt per actor, Ray restarts none
