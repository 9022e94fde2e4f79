"""``backend.isolate``: a native crash of the backend is an error with a message, exit code 4.

The ``crashing`` test backend (``crash_backend.py``) kills its own worker with
a real signal. Each crash must give one line naming the signal, the backend and
a fix, exit code 4, run files that are a clean prefix of an uninterrupted run,
and a rerun that completes them to exactly that run's files.
"""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path
from typing import Any

import crash_backend
import pytest
from scale_setup import fake_recipe, manifest, output_files

from instructgen import api
from instructgen.api import plan
from instructgen.backend import crash_hint, signal_text
from instructgen.cli import main
from instructgen.engines.replicas import ReplicaPool
from instructgen.errors import BackendCrashed, RecipeError
from instructgen.manager import make_registry
from instructgen.runner import Runner
from instructgen.testing import run_recipe

#: An item in the middle of the 40: batches before it commit, the one holding it dies.
TRIGGER = "a lamp number 22."


def crash_recipe(tmp_path: Path, name: str, **backend: Any) -> dict[str, Any]:
    recipe = fake_recipe(tmp_path, name, delay=0.0)
    recipe["backend"] = {"name": "crashing", **backend}
    return recipe


def toml(data: dict[str, Any]) -> str:
    """Enough TOML for these recipes: scalars and one level of tables."""
    top = [f"{k} = {json.dumps(v)}" for k, v in data.items() if not isinstance(v, dict)]
    tables = [f"[{k}]\n" + "\n".join(f"{kk} = {json.dumps(vv)}" for kk, vv in v.items())
              for k, v in data.items() if isinstance(v, dict)]
    return "\n".join(top) + "\n\n" + "\n\n".join(tables) + "\n"


@pytest.fixture
def cli_with_crashing_backend(monkeypatch):
    """``instructgen run`` in this process, with the crashing backend installed."""
    real = api.make_registry
    monkeypatch.setattr(api, "make_registry",
                        lambda plugins=(), **kw: real([*plugins, crash_backend], **kw))

    def go(recipe: dict[str, Any], tmp_path: Path) -> int:
        path = tmp_path / "recipe.toml"
        path.write_text(toml(recipe))
        return main(["run", str(path), "--no-progress"])

    return go


def control(tmp_path: Path, monkeypatch, sig: str, left: int, at: str = "batch") -> Path:
    path = tmp_path / "crash-control.json"
    path.write_text(json.dumps({"signal": sig, "left": left, "trigger": TRIGGER, "at": at}))
    monkeypatch.setenv(crash_backend.CONTROL_ENV, str(path))
    return path


def reference(tmp_path: Path) -> dict[str, str]:
    """The files of an uninterrupted run, in-process (no worker, no crash)."""
    result = run_recipe(crash_recipe(tmp_path, "reference", isolate=False), tmp_path,
                        plugins=[crash_backend])
    assert result.summary.items == 40 and result.rejections
    return output_files(result.run_dir)


def assert_clean_prefix(run_dir: Path, full: dict[str, str]) -> None:
    """Every file holds whole lines that start the uninterrupted run's file."""
    for name, text in output_files(run_dir).items():
        assert text == "" or text.endswith("\n"), name
        assert full[name].startswith(text), name
    state = json.loads((run_dir / "state.json").read_text())
    records = output_files(run_dir)["records.jsonl"].splitlines()
    assert 0 < len(records) < len(full["records.jsonl"].splitlines())
    assert state["committed_items"] < 40


# -- the four deaths, end to end through the CLI -------------------------------------------


@pytest.mark.parametrize("sig", [
    pytest.param("SIGILL", id="SIGILL", marks=pytest.mark.reliability(
        failure="the backend's worker dies by SIGILL twice on one batch (isolate = true)",
        user_sees="after one retry: \"crashing worker died with SIGILL (illegal instruction), "
                  "twice on the same batch of 4 requests; likely fix: …; finished records are "
                  "kept: rerun the same command to resume\"",
        exit_code=4, kept="every finished record; the rerun completes the files byte-identically")),
    pytest.param("SIGSEGV", id="SIGSEGV", marks=pytest.mark.reliability(
        failure="the backend's worker dies by SIGSEGV twice on one batch (isolate = true)",
        user_sees="after one retry: \"crashing worker died with SIGSEGV (segmentation fault), "
                  "twice on the same batch of 4 requests; likely fix: …\"",
        exit_code=4, kept="every finished record; the rerun completes the files byte-identically")),
    pytest.param("SIGABRT", id="SIGABRT", marks=pytest.mark.reliability(
        failure="the backend's worker dies by SIGABRT twice on one batch (isolate = true)",
        user_sees="after one retry: \"crashing worker died with SIGABRT (aborted), twice on "
                  "the same batch of 4 requests; likely fix: …\"",
        exit_code=4, kept="every finished record; the rerun completes the files byte-identically")),
    pytest.param("SIGKILL", id="SIGKILL", marks=pytest.mark.reliability(
        failure="the backend's worker is killed (SIGKILL, the OOM killer) twice on one batch "
                "(isolate = true)",
        user_sees="after one retry: \"crashing worker died with SIGKILL (killed; often the "
                  "out-of-memory killer), twice on the same batch of 4 requests; likely fix: "
                  "this is most often the out-of-memory killer …\"",
        exit_code=4, kept="every finished record; the rerun completes the files byte-identically")),
])
@pytest.mark.slow
def test_a_worker_dying_twice_ends_the_run_with_exit_4_and_the_rerun_resumes(
        tmp_path, monkeypatch, capsys, cli_with_crashing_backend, sig):
    full = reference(tmp_path)
    recipe = crash_recipe(tmp_path, "run", isolate=True)
    ctl = control(tmp_path, monkeypatch, sig, left=2)

    assert cli_with_crashing_backend(recipe, tmp_path) == 4
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"instructgen: error: crashing worker died with "
                           f"{signal_text(getattr(signal, sig))}, twice on the same batch")
    hint = crash_hint(getattr(signal, sig))  # the test backend declares no hints of its own
    assert f"likely fix: {hint}; finished records are kept" in last
    assert "rerun the same command to resume" in last
    assert "Traceback" not in err
    assert json.loads(ctl.read_text())["left"] == 0  # it really died twice
    run_dir = tmp_path / "run"
    assert_clean_prefix(run_dir, full)

    assert cli_with_crashing_backend(recipe, tmp_path) == 0  # nothing crashes any more
    assert output_files(run_dir) == full
    sessions = manifest(run_dir)["sessions"]
    assert len(sessions) == 2 and 0 < sessions[1]["resumed_at_item"] < 40


def test_the_fix_named_for_each_signal_fits_it():
    backends = make_registry(autoload=False).plugins("backend")

    def hint(name: str, signum: int) -> str:
        return crash_hint(signum, backends[name].crash_hints)

    assert "extra_buffers = false" in hint("llamacpp", signal.SIGILL)
    assert "GGML_NATIVE=OFF" in hint("llamacpp", signal.SIGILL)
    assert "out-of-memory" in hint("llamacpp", signal.SIGKILL)
    assert "out-of-memory" in hint("fake", signal.SIGKILL)
    assert "llama.cpp" in hint("llamacpp", signal.SIGSEGV)
    assert "torch" in hint("transformers", signal.SIGABRT)
    assert "another CPU" in crash_hint(signal.SIGILL)
    assert "reinstall" in crash_hint(signal.SIGSEGV)
    assert "own output" in crash_hint(None, backends["llamacpp"].crash_hints)


# -- one death is retried ------------------------------------------------------------------


@pytest.mark.reliability(
    failure="backend worker dies once by a signal (isolate = true)",
    user_sees="one warning: \"crashing worker died with SIGSEGV (segmentation fault); its batch "
              "of 4 requests goes to a fresh worker\"; the run goes on",
    exit_code=0, kept="everything: the batch is answered by the fresh worker")
@pytest.mark.slow
def test_one_death_is_retried_in_a_fresh_worker_and_the_run_finishes(tmp_path, monkeypatch,
                                                                      caplog):
    full = reference(tmp_path)
    ctl = control(tmp_path, monkeypatch, "SIGSEGV", left=1)
    the_plan, registry = plan(crash_recipe(tmp_path, "once", isolate=True),
                              plugins=[crash_backend], autoload=False)
    runner = Runner(the_plan, registry)
    with caplog.at_level(logging.WARNING, logger="instructgen"):
        summary = runner.run()
    pool = runner.engine.backend
    assert isinstance(pool, ReplicaPool) and pool.isolate and pool.concurrency == 1
    assert pool.retried_batches == 1 and pool.restarts == 1
    assert json.loads(ctl.read_text())["left"] == 0
    assert summary.status == "finished" and summary.items == 40
    assert output_files(tmp_path / "once") == full
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == ["crashing worker died with SIGSEGV (segmentation fault); its batch of 4 "
                      "requests goes to a fresh worker"]


@pytest.mark.reliability(
    failure="backend worker dies by a signal while loading the model (isolate = true)",
    user_sees="\"crashing worker died with SIGILL (illegal instruction), while loading the "
              "backend; likely fix: ...\"",
    exit_code=4, kept="the output directory as it was (nothing started)")
@pytest.mark.slow
def test_a_crash_while_loading_is_exit_4_with_the_signal(tmp_path, monkeypatch, capsys,
                                                         cli_with_crashing_backend):
    control(tmp_path, monkeypatch, "SIGILL", left=1, at="load")
    assert cli_with_crashing_backend(crash_recipe(tmp_path, "load", isolate=True), tmp_path) == 4
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("instructgen: error: crashing worker died with SIGILL (illegal "
                           "instruction), while loading the backend; likely fix: ")


# -- isolation is invisible in the results -------------------------------------------------


@pytest.mark.slow
def test_isolate_is_a_runtime_key_with_the_same_records_and_resume(tmp_path):
    inproc = run_recipe(crash_recipe(tmp_path, "inproc", isolate=False), tmp_path,
                        plugins=[crash_backend])
    part = crash_recipe(tmp_path, "split", isolate=True)
    part["limit"] = 17
    the_plan, registry = plan(part, plugins=[crash_backend], autoload=False)
    runner = Runner(the_plan, registry)
    assert runner.run().items == 17
    assert isinstance(runner.engine.backend, ReplicaPool)
    rest = run_recipe(crash_recipe(tmp_path, "split", isolate=False), tmp_path,
                      plugins=[crash_backend])
    assert rest.summary.items == 40
    assert output_files(tmp_path / "split") == output_files(inproc.run_dir)
    m_in, m_split = manifest(inproc.run_dir), manifest(tmp_path / "split")
    assert m_in["recipe_hash"] == m_split["recipe_hash"]
    assert m_in["backend"] == m_split["backend"]


def test_isolate_must_be_true_or_false(tmp_path):
    with pytest.raises(RecipeError, match=r"backend\.isolate: expected true or false, got 'yes'"):
        plan(crash_recipe(tmp_path, "bad", isolate="yes"), plugins=[crash_backend],
             autoload=False)


def test_backend_crashed_is_exit_code_4():
    assert BackendCrashed("x").exit_code == 4


@pytest.mark.model
def test_the_embedded_model_isolated_gives_the_records_of_one_in_process(tmp_path):
    from scale_setup import check_counts, model_recipe, need_model

    need_model()
    inproc = run_recipe(model_recipe(tmp_path, "inproc", backend={"isolate": False}), tmp_path)
    check_counts(inproc, 6)
    the_plan, registry = plan(model_recipe(tmp_path, "isolated", backend={"isolate": True}),
                              autoload=False)
    runner = Runner(the_plan, registry)
    assert runner.run().items == 6
    assert isinstance(runner.engine.backend, ReplicaPool) and runner.engine.backend.isolate
    assert output_files(tmp_path / "isolated") == output_files(inproc.run_dir)
    assert manifest(tmp_path / "isolated")["backend"] == manifest(inproc.run_dir)["backend"]
