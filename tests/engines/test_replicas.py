"""Data-parallel backend replicas on CPU: same records, cache and resume as one replica."""

from __future__ import annotations

import os
import signal
import threading
import time

import crash_backend
import pytest
from rundir_helpers import wait_until
from scale_setup import (
    check_counts,
    fake_recipe,
    manifest,
    model_recipe,
    need_model,
    output_files,
)

from instructgen.api import plan
from instructgen.backend import LLMRequest
from instructgen.backends.fake import FakeOptions
from instructgen.engines.placement import plan_slots, visible_gpus
from instructgen.engines.replicas import ReplicaPool
from instructgen.errors import ModelNotFoundError
from instructgen.manager import make_registry
from instructgen.runner import Runner
from instructgen.testing import run_recipe

# -- placement ------------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "expected"), [
    ("2,3", ["2", "3"]), ("", []), ("-1", []), ("0,-1,1", ["0"]),
    ("GPU-1a2b,GPU-3c4d", ["GPU-1a2b", "GPU-3c4d"]),
])
def test_visible_gpus_reads_cuda_visible_devices(monkeypatch, env, expected):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", env)
    assert visible_gpus() == expected


def test_auto_is_one_replica_per_gpu_each_pinned_to_its_device():
    slots = plan_slots("auto", FakeOptions(), gpus=["4", "5", "6"], cores=list(range(12)))
    assert [s.gpu for s in slots] == ["4", "5", "6"]
    assert [s.env()["CUDA_VISIBLE_DEVICES"] for s in slots] == ["4", "5", "6"]
    assert [s.cores for s in slots] == [(0, 1, 2, 3), (4, 5, 6, 7), (8, 9, 10, 11)]


def test_cpu_replicas_split_the_cores_without_overlap():
    slots = plan_slots(3, FakeOptions(), gpus=[], cores=list(range(8)))
    assert [s.gpu for s in slots] == [None] * 3
    assert [s.threads for s in slots] == [2, 2, 2]
    used = [c for s in slots for c in s.cores]
    assert len(used) == len(set(used)) == 6
    assert slots[0].env()["OMP_NUM_THREADS"] == "2"


def test_cpu_auto_is_one_or_cores_per_thread_count():
    from instructgen.backends.llamacpp import LlamaCppOptions

    assert len(plan_slots("auto", LlamaCppOptions(), gpus=[], cores=list(range(8)))) == 1
    assert len(plan_slots("auto", LlamaCppOptions(n_threads=2), gpus=[],
                          cores=list(range(8)))) == 4


def test_worker_gets_n_threads_only_when_the_user_left_it_unset():
    from instructgen.backends.llamacpp import LlamaCppOptions
    from instructgen.engines.placement import worker_options as _worker_options

    slot = plan_slots(2, LlamaCppOptions(), gpus=[], cores=list(range(6)))[1]
    assert _worker_options(LlamaCppOptions(), slot) == (LlamaCppOptions(n_threads=3), True)
    assert _worker_options(LlamaCppOptions(n_threads=5), slot) == (
        LlamaCppOptions(n_threads=5), False)


def test_bad_replica_count_is_a_recipe_error(tmp_path):
    from instructgen.errors import RecipeError

    with pytest.raises(RecipeError, match=r"backend\.replicas"):
        plan(fake_recipe(tmp_path, "r", backend={"replicas": 0}))


# -- the pool on the fake backend --------------------------------------------------------


@pytest.mark.slow
def test_two_replicas_give_the_records_cache_and_hash_of_one(tmp_path):
    one = run_recipe(fake_recipe(tmp_path, "one"), tmp_path)
    two_recipe = fake_recipe(tmp_path, "two", backend={"replicas": 2})
    the_plan, registry = plan(two_recipe, autoload=False)
    runner = Runner(the_plan, registry)
    summary = runner.run()
    pool = runner.engine.backend
    assert isinstance(pool, ReplicaPool) and pool.concurrency == 2
    assert all(n > 0 for n in pool.served.values()), pool.served  # both replicas worked
    assert sum(pool.served.values()) == summary.backend_calls
    two_dir = tmp_path / "two"
    assert output_files(two_dir) == output_files(one.run_dir)
    assert one.summary.accepted > 0 and one.rejections
    m1, m2 = manifest(one.run_dir), manifest(two_dir)
    assert m1["recipe_hash"] == m2["recipe_hash"]
    assert m1["backend"] == m2["backend"]  # the underlying backend's identity
    assert m2["recipe"]["backend"]["replicas"] == 2
    # the cache written by two replicas serves a 1-replica run completely
    again = run_recipe(fake_recipe(tmp_path, "again", cache={"path": str(tmp_path / "two.sqlite")}),
                       tmp_path)
    assert again.summary.requests == 0 and again.summary.cache_hits == summary.requests
    assert output_files(again.run_dir) == output_files(one.run_dir)


@pytest.mark.slow
def test_a_run_started_with_replicas_resumes_with_one(tmp_path):
    full = run_recipe(fake_recipe(tmp_path, "full"), tmp_path)
    part = fake_recipe(tmp_path, "split", backend={"replicas": 2}, limit=17)
    first = run_recipe(part, tmp_path)
    assert first.summary.items == 17
    rest = fake_recipe(tmp_path, "split")  # limit and replicas are runtime keys
    second = run_recipe(rest, tmp_path)
    assert second.summary.items == 40
    assert manifest(second.run_dir)["sessions"][-1]["resumed_at_item"] == 17
    assert output_files(second.run_dir) == output_files(full.run_dir)


@pytest.mark.slow
def test_a_worker_killed_mid_batch_is_replaced_and_its_batch_retried(tmp_path, monkeypatch):
    reference = run_recipe(fake_recipe(tmp_path, "ref", backend={"name": "gated"}), tmp_path,
                           plugins=[crash_backend])  # no gate: an uninterrupted run
    # The gated backend holds every batch while gate/closed exists and names the worker
    # that entered one, so the kill strikes a worker that is inside a batch for certain.
    gate = tmp_path / "gate"
    gate.mkdir()
    (gate / "closed").touch()
    monkeypatch.setenv(crash_backend.GATE_ENV, str(gate))
    recipe = fake_recipe(tmp_path, "killed", backend={"name": "gated", "replicas": 2})
    the_plan, registry = plan(recipe, plugins=[crash_backend], autoload=False)
    runner = Runner(the_plan, registry)
    killed: list[int] = []

    def kill_the_first_worker_inside_a_batch() -> None:
        try:
            wait_until(lambda: list(gate.glob("entered.*")), None, 120,
                       "no worker ever entered a batch")
            pid = int(sorted(gate.glob("entered.*"))[0].suffix.lstrip("."))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        finally:
            (gate / "closed").unlink()  # open the gate: the retry and the rest go through

    killer = threading.Thread(target=kill_the_first_worker_inside_a_batch, daemon=True)
    killer.start()
    got = list(runner.records())
    killer.join()
    pool = runner.engine.backend
    assert killed, "no worker ever entered a batch"
    assert pool.retried_batches >= 1 and pool.restarts >= 1
    assert runner.summary.status == "finished" and runner.summary.items == 40
    assert [r.id for r in got] == [r.id for r in reference.records]  # nothing lost or doubled
    assert output_files(tmp_path / "killed") == output_files(reference.run_dir)


@pytest.mark.slow
def test_a_batch_that_kills_every_worker_fails_the_run_instead_of_looping(tmp_path):
    spec = make_registry(autoload=False).get("backend", "fake")
    pool = ReplicaPool(spec, FakeOptions(delay=5.0), 2)
    stop, killed = threading.Event(), set()

    def new_busy_workers() -> set[int]:
        return set(pool.busy_pids) - killed

    def killer():  # each worker that takes the batch is killed once it is inside it
        while wait_until(lambda: new_busy_workers() or stop.is_set(), None, 120):
            if stop.is_set():
                return
            for pid in new_busy_workers():
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        with pytest.raises(RuntimeError, match="died serving the same batch"):
            pool.generate([LLMRequest(messages=[("user", "hello")])])
    finally:
        stop.set()
        thread.join()
        pool.close()
    assert len(killed) >= 2  # the batch was retried on a fresh worker before giving up


# -- the embedded model -------------------------------------------------------------------


@pytest.mark.model
def test_two_replicas_of_the_embedded_model(tmp_path):
    need_model()
    two = run_recipe(model_recipe(tmp_path, "two", backend={"replicas": 2}), tmp_path)
    check_counts(two, 6)
    assert two.summary.backend_calls >= 1 and two.summary.requests >= 5
    ident = manifest(two.run_dir)["backend"]
    assert ident["name"] == "llamacpp" and ident["sha256"]
    # One replica over the same cache: every answer is a hit and the files are identical.
    one = run_recipe(model_recipe(tmp_path, "one", cache={"path": str(tmp_path / "two.sqlite")}),
                     tmp_path)
    assert one.summary.requests == 0 and one.summary.cache_hits == two.summary.requests
    assert manifest(one.run_dir)["backend"] == ident
    assert output_files(one.run_dir) == output_files(two.run_dir)


@pytest.mark.model
def test_a_replica_that_cannot_start_raises_the_backends_own_error(tmp_path):
    need_model()
    recipe = model_recipe(tmp_path, "bad", backend={"replicas": 2,
                                                    "model": str(tmp_path / "none.gguf")})
    with pytest.raises(ModelNotFoundError):
        run_recipe(recipe, tmp_path)


# -- start-up in parallel, with load times --------------------------------------------------


def slow_loading_fake(options: FakeOptions):
    """A fake backend that loads in 1.5 s and logs when (module level, so it pickles)."""
    from instructgen.backends.fake import FakeBackend

    started = time.time()
    time.sleep(1.5)
    with open(os.environ["SLOW_LOAD_LOG"], "a") as f:
        f.write(f"{os.getpid()} {started} {time.time()}\n")
    return FakeBackend(options)


@pytest.mark.slow
def test_replicas_load_in_parallel_and_report_their_load_times(tmp_path, monkeypatch):
    from instructgen.plugin import BackendPlugin

    log = tmp_path / "loads.log"
    monkeypatch.setenv("SLOW_LOAD_LOG", str(log))  # spawned workers inherit the environment
    spec = BackendPlugin(name="slow_loading_fake_test", description="test",
                         options=FakeOptions, factory=slow_loading_fake)
    pool = ReplicaPool(spec, FakeOptions(), 2, slots=plan_slots(2, FakeOptions(), gpus=[],
                                                                 cores=[0]))
    try:
        assert len(pool.generate([LLMRequest(messages=[("user", "hello")])])) == 1
    finally:
        pool.close()
    loads = [line.split() for line in log.read_text().splitlines()]
    assert len(loads) == 2 and loads[0][0] != loads[1][0]
    starts, ends = [float(x[1]) for x in loads], [float(x[2]) for x in loads]
    assert max(starts) < min(ends), "the second worker started loading after the first finished"
    assert sorted(pool.load_times) == ["replica 0", "replica 1"]
    assert all(1.5 <= s < 30 for s in pool.load_times.values()), pool.load_times


@pytest.mark.slow
def test_the_manifest_and_log_record_each_workers_model_load_time(tmp_path):
    from instructgen.logs import quiet_logger

    events = []

    class Log:
        def __getattr__(self, level):
            quiet = getattr(quiet_logger(), level)
            return lambda event, **kw: (events.append((event, kw)), quiet(event, **kw))

    the_plan, registry = plan(fake_recipe(tmp_path, "loads", backend={"replicas": 2}),
                              autoload=False)
    Runner(the_plan, registry, log=Log()).run()
    loads = manifest(tmp_path / "loads")["sessions"][-1]["model_load_s"]
    assert sorted(loads) == ["replica 0", "replica 1"]
    assert sorted(kw["worker"] for e, kw in events if e == "model_loaded") == sorted(loads)
    one = run_recipe(fake_recipe(tmp_path, "one"), tmp_path)
    assert list(manifest(one.run_dir)["sessions"][-1]["model_load_s"]) == ["backend"]
