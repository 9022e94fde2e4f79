"""Documentation cannot drift: generated pages are current and nothing is undocumented."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

from instructgen import hookspecs
from instructgen.introspect import describe_options
from instructgen.manager import _KIND_HOOKS, make_registry

ROOT = Path(__file__).resolve().parents[1]


def test_generated_reference_pages_are_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "docs" / "generate.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_builtin_plugin_and_option_is_documented():
    registry = make_registry(autoload=False)
    recipes = (ROOT / "docs" / "recipes.md").read_text()
    missing = []
    for kind in _KIND_HOOKS:
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
