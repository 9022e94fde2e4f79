"""Recipes: TOML, includes, overrides, and errors with key paths."""

from __future__ import annotations

import pytest

from instructgen.errors import RecipeError
from instructgen.manager import make_registry
from instructgen.plan import resolve
from instructgen.recipe import load_recipe

BASE = """
seed = 3
output_dir = "out"
[source]
name = "jsonl"
path = "items.jsonl"
[generator]
name = "prompt"
template = "Describe {caption}."
[backend]
name = "fake"
"""


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_loads_and_resolves_each_stage_with_its_options(tmp_path):
    recipe = load_recipe(_write(tmp_path, "r.toml", BASE))
    plan = resolve(recipe, make_registry(autoload=False))
    assert plan.generator.options.template == "Describe {caption}."
    assert plan.source.options.path.name == "items.jsonl"
    assert plan.recipe.seed == 3 and plan.recipe.batch_size == 16
    assert plan.normalized()["generator"]["max_tokens"] == 96  # defaults filled in


def test_invalid_toml_names_line_and_column(tmp_path):
    path = _write(tmp_path, "bad.toml", "seed = 1\noutput_dir = \n")
    with pytest.raises(RecipeError, match=r"bad.toml: invalid TOML: .*line 2, column 14"):
        load_recipe(path)


def test_missing_file(tmp_path):
    with pytest.raises(RecipeError, match=r"nope\.toml: recipe file not found"):
        load_recipe(tmp_path / "nope.toml")


def test_wrong_type_and_unknown_key_give_key_paths(tmp_path):
    path = _write(tmp_path, "r.toml", 'batch_size = "big"\nsede = 1\n' + BASE)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    msg = str(err.value)
    assert "batch_size: expected an integer, got 'big'" in msg
    assert "sede: unknown option; did you mean 'seed'?" in msg
    assert "\n" not in msg


def test_plugin_option_errors_are_prefixed_with_the_stage(tmp_path):
    text = BASE.replace('template = "Describe {caption}."', "max_tokens = 1.5\nbogus = 1")
    with pytest.raises(RecipeError) as err:
        resolve(load_recipe(_write(tmp_path, "r.toml", text)), make_registry(autoload=False))
    msg = str(err.value)
    assert "generator.template: missing required option" in msg
    assert "generator.max_tokens: expected an integer, got 1.5" in msg
    assert "generator.bogus: unknown option" in msg


def test_unknown_plugin_suggests_the_closest(tmp_path):
    text = BASE.replace('name = "prompt"', 'name = "promt"')
    with pytest.raises(RecipeError, match=r"generator\.name: unknown generator 'promt'; "
                                          r"did you mean 'prompt'"):
        resolve(load_recipe(_write(tmp_path, "r.toml", text)), make_registry(autoload=False))


def test_include_merges_tables_and_the_recipe_wins(tmp_path):
    _write(tmp_path, "shared.toml", '[backend]\nname = "fake"\ndelay = 0.5\nrule = "echo"\n')
    text = 'include = "shared.toml"\n' + BASE.replace('[backend]\nname = "fake"\n',
                                                    '[backend]\ndelay = 0.0\n')
    recipe = load_recipe(_write(tmp_path, "r.toml", text))
    assert recipe.backend.name == "fake"
    assert recipe.backend.options == {"delay": 0.0, "rule": "echo"}


def test_include_cycle_is_an_error(tmp_path):
    _write(tmp_path, "a.toml", 'include = "b.toml"\n')
    _write(tmp_path, "b.toml", 'include = "a.toml"\n')
    with pytest.raises(RecipeError, match="include cycle"):
        load_recipe(tmp_path / "a.toml")


def test_set_overrides_any_value_with_toml_syntax(tmp_path):
    path = _write(tmp_path, "r.toml", BASE)
    recipe = load_recipe(path, ["seed=11", "generator.max_tokens=7", "backend.rule=echo",
                                "generator.stop=['x', 'y']"])
    assert recipe.seed == 11
    assert recipe.generator.options["max_tokens"] == 7
    assert recipe.backend.options["rule"] == "echo"
    assert recipe.generator.options["stop"] == ["x", "y"]
    with pytest.raises(RecipeError, match=r"expected KEY\.PATH=VALUE"):
        load_recipe(path, ["seed"])


def test_runtime_keys_do_not_change_the_hash(tmp_path):
    path = _write(tmp_path, "r.toml", BASE)
    reg = make_registry(autoload=False)
    h = resolve(load_recipe(path), reg).hash
    assert resolve(load_recipe(path, ["batch_size=3", "limit=5"]), reg).hash == h
    assert resolve(load_recipe(path, ["seed=4"]), reg).hash != h
    assert resolve(load_recipe(path, ["generator.template='Say {caption}'"]), reg).hash != h
