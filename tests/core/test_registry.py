"""The plugin registry: builtins, entry points, duplicates, unknown names."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import attrs
import pytest

from instructgen import Generator, GeneratorPlugin, NoOptions, SourcePlugin, hookimpl, hookspecs
from instructgen.errors import DuplicatePluginError, UnknownPluginError
from instructgen.manager import BUILTIN_PLUGINS, PluginLoadWarning, make_registry


class _Echo(Generator):
    async def generate(self, item, ctx):
        return [dict(item.data)]


def _gen_plugin(name: str) -> object:
    class Plugin:
        @hookimpl
        def instructgen_generators(self):
            yield GeneratorPlugin(name=name, description="test", factory=lambda o: _Echo())

    return Plugin()


def test_builtins_load_through_the_plugin_manager_and_can_be_blocked():
    reg = make_registry(autoload=False)
    for mod in BUILTIN_PLUGINS:
        assert reg.pm.has_plugin(mod), mod
    assert "jsonl" in reg.plugins("source")
    blocked = make_registry(autoload=False, block=["instructgen.plugins.io"])
    assert "jsonl" not in blocked.plugins("source")
    assert "fake" in blocked.plugins("backend")


def test_embedded_plugins_do_not_leak_between_registries():
    a = make_registry([_gen_plugin("only_in_a")], autoload=False)
    b = make_registry(autoload=False)
    assert "only_in_a" in a.plugins("generator")
    assert "only_in_a" not in b.plugins("generator")


def test_duplicate_name_names_both_providers():
    reg = make_registry([_gen_plugin("twin"), _gen_plugin("twin")], autoload=False)
    with pytest.raises(DuplicatePluginError) as err:
        reg.plugins("generator")
    msg = str(err.value)
    assert "'twin'" in msg and msg.count("embedded") == 2


def test_unknown_name_lists_valid_names_and_suggests():
    reg = make_registry(autoload=False)
    with pytest.raises(UnknownPluginError) as err:
        reg.get("source", "jsnl", where="source.name")
    msg = str(err.value)
    assert msg.startswith("source.name: unknown source 'jsnl'; did you mean 'jsonl'?")
    assert "valid:" in msg and "jsonl" in msg


def test_plugin_names_must_be_lowercase_identifiers():
    with pytest.raises(ValueError, match="lowercase"):
        SourcePlugin(name="Bad-Name", description="x", factory=object)
    with pytest.raises(TypeError, match="attrs class"):
        SourcePlugin(name="ok", description="x", factory=object, options=dict)


def test_every_hook_is_prefixed_typed_and_documented_with_an_example():
    hooks = [f for n, f in inspect.getmembers(hookspecs, inspect.isfunction)
             if n.startswith("instructgen_")]
    assert len(hooks) >= 9
    for fn in hooks:
        doc = inspect.getdoc(fn) or ""
        assert "@hookimpl" in doc, f"{fn.__name__} has no example"
        assert "return" in fn.__annotations__, f"{fn.__name__} lacks a return annotation"
    public = [n for n, _ in inspect.getmembers(hookspecs, inspect.isfunction)
              if not n.startswith("_")]
    assert all(n.startswith("instructgen_") for n in public), public


def _fake_dist(root: Path, name: str, module_code: str) -> None:
    """A module plus a dist-info folder whose entry point registers it."""
    (root / f"{name}.py").write_text(textwrap.dedent(module_code))
    info = root / f"{name}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[instructgen]\n{name} = {name}\n")


GOOD = """
from instructgen import hookimpl, SourcePlugin, Source, SourceItem
import attrs

@attrs.frozen
class Opts:
    #: how many items
    n: int = 2

class Count(Source):
    def __init__(self, o):
        self.o = o
    def __iter__(self):
        for i in range(self.o.n):
            yield SourceItem(id=str(i), data={"i": i})

@hookimpl
def instructgen_sources():
    yield SourcePlugin(name="counting", description="Counts up", options=Opts, factory=Count)
"""


def test_entry_point_plugin_is_found_with_its_distribution(tmp_path, monkeypatch):
    _fake_dist(tmp_path, "ig_good_plugin", GOOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = make_registry(autoload=True)
    spec = reg.plugins("source")["counting"]
    assert (spec.dist, spec.version) == ("ig_good_plugin", "1.2.3")
    off = make_registry(autoload=False)
    assert "counting" not in off.plugins("source")
    monkeypatch.setenv("INSTRUCTGEN_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "counting" not in make_registry().plugins("source")


def test_broken_third_party_plugin_warns_and_the_rest_works(tmp_path, monkeypatch):
    _fake_dist(tmp_path, "ig_good_plugin", GOOD)
    _fake_dist(tmp_path, "ig_broken_plugin", "raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = make_registry(autoload=True)
    msgs = [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)]
    assert any("ig_broken_plugin" in m and "boom at import" in m for m in msgs)
    assert "counting" in reg.plugins("source")


@pytest.mark.slow
def test_cli_lists_an_installed_third_party_plugin(tmp_path):
    _fake_dist(tmp_path, "ig_good_plugin", GOOD)
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "instructgen", "plugins", "--kind", "source", "--json"],
        capture_output=True, text=True, env=env, check=True,
    ).stdout
    import json

    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["counting"]["dist"] == "ig_good_plugin"
    assert rows["counting"]["options"] == [
        {"name": "n", "type": "int", "default": 2, "required": False, "help": "how many items"}
    ]


def test_noopts_is_an_attrs_class():
    assert attrs.has(NoOptions)
