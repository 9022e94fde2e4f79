"""Documentation cannot drift: generated pages are current and nothing is undocumented."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from instructgen import hookspecs
from instructgen.introspect import describe_options
from instructgen.manager import make_registry
from instructgen.plugin import PLUGIN_KINDS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_generated_reference_pages_are_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "docs" / "generate.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_builtin_plugin_and_option_is_documented():
    registry = make_registry(autoload=False)
    recipes = (ROOT / "docs" / "recipes.md").read_text()
    missing = []
    for kind in PLUGIN_KINDS:
        for spec in registry.plugins(kind).values():
            if spec.dist != "instructgen":
                continue
            if not spec.description.strip():
                missing.append(f"{kind} {spec.name}: no description")
            if f"### `{spec.name}`" not in recipes:
                missing.append(f"{kind} {spec.name}: not in docs/recipes.md")
            for opt in describe_options(spec.options):
                if not opt["help"]:
                    missing.append(f"{kind} {spec.name}.{opt['name']}: no #: help comment")
    assert not missing, "\n".join(missing)


def test_every_hook_is_in_the_hook_reference_with_an_example():
    page = (ROOT / "docs" / "hooks.md").read_text()
    for name, _fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("instructgen_"):
            assert f"## `{name}(" in page, name
            section = page.split(f"## `{name}(", 1)[1].split("\n## ", 1)[0]
            assert "```python" in section and "@hookimpl" in section, name


def _fenced(text: str, heading: str, lang: str) -> str:
    section = text.split(heading, 1)[1]
    return section.split(f"```{lang}\n", 1)[1].split("```", 1)[0]


def _markov_example():
    """docs/writing-backends.md's backend, imported from its file as a user's plugin would be."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("markov_docs",
                                                  ROOT / "examples" / "backends" / "markov.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # our own example file
    return module


def test_the_backend_guide_shows_its_example_file_whole():
    # tests/backends/conftest.py runs the conformance suite on that same file.
    page = (ROOT / "docs" / "writing-backends.md").read_text()
    shown = _fenced(page, "## The whole backend", "python")
    assert shown == (ROOT / "examples" / "backends" / "markov.py").read_text()


def test_the_backend_guide_example_runs_recipes_as_a_plugin(tmp_path):
    import json

    import instructgen
    from instructgen.errors import RecipeError

    markov = _markov_example()
    items = tmp_path / "captions.jsonl"
    items.write_text("".join(json.dumps({"caption": c}) + "\n"
                             for c in ("a red bus by a tree", "two dogs on a beach")))
    schema = {"type": "object", "properties": {"mood": {"enum": ["calm", "busy"]}},
              "required": ["mood"], "additionalProperties": False}
    recipe = {"source": {"name": "jsonl", "path": str(items)},
              "generator": {"name": "prompt", "template": "Describe {caption}.",
                            "schema": json.dumps(schema)},
              "backend": {"name": "markov", "n_ctx": 64},
              "output_dir": str(tmp_path / "run"), "cache": {"enabled": False}}
    summary = instructgen.run(recipe, plugins=[markov], autoload=False)
    assert summary.accepted == 2
    lines = (tmp_path / "run" / "records.jsonl").read_text().splitlines()
    assert {json.loads(line)["data"]["text"]["mood"] for line in lines} <= {"calm", "busy"}
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["backend"]["name"] == "markov"
    # It declares no "scores", so a score judge is refused at plan time.
    judged = {**recipe, "generator": {"name": "edit", "judge": True, "judge_format": "score"},
              "output_dir": str(tmp_path / "judged")}
    with pytest.raises(RecipeError, match="judge_format"):
        instructgen.run(judged, plugins=[markov], autoload=False)


def test_readme_minimal_plugin_and_recipe_work(tmp_path, monkeypatch):
    import importlib.util
    import json
    import tomllib

    import instructgen

    readme = (ROOT / "README.md").read_text()
    module_path = tmp_path / "my_plugin.py"
    module_path.write_text(_fenced(readme, "## A minimal plugin", "python"))
    spec = importlib.util.spec_from_file_location("my_plugin", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # our own README's code, imported like any module

    recipe = tomllib.loads(_fenced(readme, "## A minimal recipe", "toml"))
    items = tmp_path / "captions.jsonl"
    items.write_text(json.dumps({"caption": "a cat", "concept": "cat"}) + "\n")
    monkeypatch.chdir(tmp_path)
    recipe["backend"] = {"name": "fake"}
    assert instructgen.run(recipe, autoload=False).accepted == 1
    recipe["generator"] = {"name": "shout", "max_words": 5}
    recipe["output_dir"] = "runs/shout"
    summary = instructgen.run(recipe, plugins=[module], autoload=False)
    assert summary.accepted == 1
    line = (tmp_path / "runs" / "shout" / "records.jsonl").read_text()
    assert "DESCRIBE CAT IN 5 WORDS" in line
