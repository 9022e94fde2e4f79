"""``compose = "auto"`` follows the model the recipe backend names (``backend_model``)."""

from __future__ import annotations

import pytest

from instructgen.api import plan
from instructgen.plugin import RunInfo
from instructgen.plugins.concepts import paths as caption_paths
from instructgen.plugins.edits.compose import auto as edit_paths


def _recipe(tmp_path, generator, backend):
    (tmp_path / "in.jsonl").write_text('{"caption": "A dog on a red couch.", "concept": "dog"}\n')
    return {"seed": 1, "output_dir": str(tmp_path / "out"),
            "source": {"name": "jsonl", "path": str(tmp_path / "in.jsonl")},
            "generator": generator, "backend": backend}


def _setup(the_plan):
    generator = the_plan.generator.build()
    generator.setup(RunInfo(None, 1, the_plan.hash, 0, the_plan.context))
    return generator


def test_the_plan_names_the_backends_model_or_none(tmp_path):
    fake, _ = plan(_recipe(tmp_path, {"name": "edit"}, {"name": "fake"}), autoload=False)
    assert fake.context.backend_model is None
    # The model option's default counts: the embedded model, without resolving its file.
    local, _ = plan(_recipe(tmp_path, {"name": "edit"}, {"name": "llamacpp"}), autoload=False,
                    prepare_backend=False)
    assert local.context.backend_model == "smollm2-135m-instruct"
    named, _ = plan(_recipe(tmp_path, {"name": "edit"},
                            {"name": "llamacpp", "model": "my-8b.gguf"}), autoload=False,
                    prepare_backend=False)
    assert named.context.backend_model == "my-8b.gguf"


def test_edit_auto_takes_the_path_measured_on_the_recipes_model(tmp_path, monkeypatch):
    """The edit generator chooses at plan time (its ``prepare``), from the model the
    recipe's backend names; the recipe's own setting wins over the table."""
    def path(backend, **generator):
        recipe = _recipe(tmp_path, {"name": "edit", **generator}, backend)
        the_plan, _ = plan(recipe, autoload=False, prepare_backend=False)
        prepared = the_plan.generator.prepared
        assert _setup(the_plan)._compose == prepared.compose
        return prepared.compose

    big = {"name": "llamacpp", "model": "big-model"}
    assert path(big) == "rules"  # unmeasured
    monkeypatch.setattr(edit_paths, "MEASURED",
                        {"big-model": ("model", "a test's measurement")})
    assert path(big) == "model"
    assert path(big, compose="rules") == "rules"
    assert path({"name": "llamacpp"}) == "rules"  # SmolLM2-135M was measured on both


@pytest.mark.parametrize(("name", "family"), [("c2cap", "c2cap"), ("cc2cap", "cc2cap")])
def test_caption_auto_takes_the_model_path_only_where_it_measured_precise(
        tmp_path, monkeypatch, name, family):
    """Chosen at plan time (the generator's ``prepare``), from the recipe's model."""
    def path(**generator):
        recipe = _recipe(tmp_path, {"name": name, **generator},
                         {"name": "llamacpp", "model": "big-model"})
        the_plan, _ = plan(recipe, autoload=False, prepare_backend=False)
        assert _setup(the_plan).path() == the_plan.generator.prepared.path
        return the_plan.generator.prepared.path

    assert path() == "template"
    monkeypatch.setitem(caption_paths.MODEL_PATH_PRECISION, "big-model", {family: 0.95})
    assert path() == "model"
    assert path(compose="template") == "template"
    monkeypatch.setitem(caption_paths.MODEL_PATH_PRECISION, "big-model", {family: 0.5})
    assert path() == "template"
