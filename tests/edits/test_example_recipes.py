"""Every example recipe under examples/edits runs end to end on the fake backend."""

from __future__ import annotations

import tomllib

import pytest
from recipe_checks import EXAMPLES, LLM_RECIPES, RULE_RECIPES, check_run

from instructgen.backends.fake import FakeBackend, FakeOptions


@pytest.mark.parametrize("name", LLM_RECIPES + RULE_RECIPES)
def test_example_recipe_runs_on_the_fake_backend(name, tmp_path, run_recipe, monkeypatch):
    monkeypatch.chdir(EXAMPLES.parents[1])
    recipe = tomllib.loads((EXAMPLES / f"{name}.toml").read_text())
    assert (recipe["backend"]["name"], recipe["backend"]["model"]) == (
        "llamacpp", "smollm2-135m-instruct")
    assert recipe["output_dir"].startswith("runs/")
    recipe.update(backend={"name": "fake"}, output_dir=str(tmp_path / "out"))
    # The fake model's schema-valid word salad fails the content checks: that
    # exercises the rejection paths; the counts must still add up.
    res = run_recipe(recipe, backend=FakeBackend(FakeOptions()))
    assert res.summary.items == recipe.get("limit", res.summary.items) > 0
    check_run(res, recipe)
    if name in RULE_RECIPES:
        assert res.summary.accepted > 0 and res.summary.requests == 0
