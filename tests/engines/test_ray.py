"""The Ray engine (long-lived actors) on a local Ray instance with 2 CPUs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from scale_setup import (
    check_counts,
    cmdline,
    descendants,
    fake_recipe,
    manifest,
    model_recipe,
    need_model,
    output_files,
)

from instructgen.api import plan
from instructgen.runner import Runner
from instructgen.testing import run_recipe

pytestmark = pytest.mark.slow

ACTOR_TITLE = "ray::GenerationActor"
RAY = {"kind": "ray", "actors": 2, "items_per_task": 4}


def test_ray_records_match_a_local_run_and_resume_skips_finished_items(local_ray, tmp_path):
    local = run_recipe(fake_recipe(tmp_path, "local"), tmp_path)
    assert local.summary.accepted > 0 and local.rejections
    # first session: stop at 13 items; the second resumes on Ray and finishes
    first = run_recipe(fake_recipe(tmp_path, "ray", engine=RAY, limit=13), tmp_path)
    assert first.summary.items == 13
    second = run_recipe(fake_recipe(tmp_path, "ray", engine=RAY), tmp_path)
    assert second.summary.items == 40
    ray_dir = tmp_path / "ray"
    assert manifest(ray_dir)["sessions"][-1]["resumed_at_item"] == 13
    assert output_files(ray_dir) == output_files(local.run_dir)
    m_local, m_ray = manifest(local.run_dir), manifest(ray_dir)
    assert m_ray["recipe_hash"] == m_local["recipe_hash"]
    assert m_ray["backend"] == m_local["backend"]
    assert m_ray["counts"]["accepted"] == m_local["counts"]["accepted"]
    assert m_ray["status"] == "finished"
    # only the 27 items of the second session reached the actors' backends
    assert second.summary.requests + second.summary.cache_hits == 27 - sum(
        1 for i in range(13, 40) if i % 7 == 3)
    # every counter comes back from the actors (the fake decodes its whole prompt)
    assert second.summary.prompt_tokens > 0
    assert second.summary.prompt_tokens_decoded == second.summary.prompt_tokens
    # a third run has nothing to do
    third = run_recipe(fake_recipe(tmp_path, "ray", engine=RAY), tmp_path)
    assert third.summary.status == "already_finished"


def _kill_an_actor_when_busy(runner: Runner, killed: list[int]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if runner.summary.items >= 1:  # blocks are flowing: the other actor is mid-block
            actors = [p for p in descendants(os.getpid()) if cmdline(p).startswith(ACTOR_TITLE)]
            if actors:
                os.kill(actors[0], signal.SIGKILL)
                killed.append(actors[0])
                return
        time.sleep(0.02)


@pytest.mark.reliability(
    failure="a Ray actor dies mid-run (killed, out of memory, node lost)",
    user_sees="nothing: Ray restarts the actor, which loads its model again, and its blocks "
              "are retried (up to 3 times each)",
    exit_code=0, kept="every record exactly once: the files equal an undisturbed run's")
def test_an_actor_killed_mid_run_loses_and_duplicates_nothing(local_ray, tmp_path):
    reference = run_recipe(fake_recipe(tmp_path, "ref", n=48, delay=0.4), tmp_path)
    recipe = fake_recipe(tmp_path, "killed", n=48, delay=0.4, engine=RAY)
    the_plan, registry = plan(recipe, autoload=False)
    runner = Runner(the_plan, registry)
    killed: list[int] = []
    killer = threading.Thread(target=_kill_an_actor_when_busy, args=(runner, killed),
                              daemon=True)
    killer.start()
    got = list(runner.records())
    killer.join()
    assert killed, "no Ray actor was found to kill"
    assert runner.summary.status == "finished" and runner.summary.items == 48
    assert [r.id for r in got] == [r.id for r in reference.records]
    assert output_files(tmp_path / "killed") == output_files(reference.run_dir)


@pytest.mark.model
def test_ray_actors_run_the_embedded_model(local_ray, tmp_path):
    need_model()
    res = run_recipe(model_recipe(tmp_path, "ray", engine=dict(RAY, items_per_task=3)),
                     tmp_path)
    check_counts(res, 6)
    assert res.summary.requests >= 5  # one item lacks the field; invalid answers are retried
    ident = manifest(res.run_dir)["backend"]
    assert ident["name"] == "llamacpp" and ident["sha256"]
    # the actors wrote the recipe's cache: a local run replays it exactly
    shared = {"path": str(tmp_path / "ray.sqlite")}
    local = run_recipe(model_recipe(tmp_path, "local", cache=shared), tmp_path)
    assert local.summary.requests == 0 and local.summary.cache_hits == res.summary.requests
    assert output_files(local.run_dir) == output_files(res.run_dir)


def test_in_process_plugins_are_refused_with_a_clear_error(local_ray, tmp_path):
    from instructgen import Generator, GeneratorPlugin, hookimpl
    from instructgen.errors import UserError

    class Echo(Generator):
        async def generate(self, item, ctx):
            return [dict(item.data)]

    class Plugin:
        @hookimpl
        def instructgen_generators(self):
            yield GeneratorPlugin(name="echo_items", description="test",
                                  factory=lambda o: Echo())

    recipe = fake_recipe(tmp_path, "inproc", engine=RAY)
    recipe["generator"] = "echo_items"
    with pytest.raises(UserError, match=r"generator=echo_items is not an installed plugin"):
        run_recipe(recipe, tmp_path, plugins=[Plugin()])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.reliability(
    failure="engine.ray_address names a Ray cluster that cannot be reached",
    user_sees="one line within seconds: `cannot reach the Ray cluster at ADDRESS (host:port: "
              "Connection refused)`",
    exit_code=2, kept="nothing is written; no records file is created")
def test_an_unreachable_cluster_is_a_one_line_error_naming_the_address(tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'instructgen[ray]')")
    recipe = fake_recipe(tmp_path, "nowhere")
    toml = tmp_path / "nowhere.toml"
    toml.write_text(f"""
output_dir = "{recipe['output_dir']}"
[source]
name = "jsonl"
path = "{recipe['source']['path']}"
[generator]
name = "prompt"
template = "Write a caption about {{subject}}."
[backend]
name = "fake"
""")
    address = f"127.0.0.1:{_free_port()}"
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "instructgen", "run", str(toml), "--no-progress",
                           "--engine", "ray", "--ray-address", address],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and address in lines[0] and "cannot reach" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert time.monotonic() - started < 60
    assert not (tmp_path / "nowhere" / "records.jsonl").exists()


def test_ray_address_forms():
    pytest.importorskip("ray", reason="ray is not installed")
    from instructgen.engines.ray import RayEngineError, host_port

    assert host_port("ray://head.example:10001") == ("head.example", 10001)
    assert host_port("ray://head.example") == ("head.example", 10001)
    assert host_port("10.0.0.5:6380") == ("10.0.0.5", 6380)
    assert host_port("10.0.0.5") == ("10.0.0.5", 6379)
    assert host_port("[::1]:7000") == ("::1", 7000)
    with pytest.raises(RayEngineError, match="port must be a number"):
        host_port("head:http")
