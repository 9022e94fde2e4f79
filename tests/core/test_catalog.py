"""One collector for named records, families' own hooks and commands, the typed hook methods."""

from __future__ import annotations

import argparse
import subprocess
import sys
import types

import attrs
import pluggy
import pytest

from instructgen import CommandSpec, GeneratorPlugin, ModelSpec, SourcePlugin, hookimpl
from instructgen.catalog import Catalog
from instructgen.errors import DuplicatePluginError, PluginError
from instructgen.manager import make_registry
from instructgen.plugins.edits import BUILTIN_EDIT_TYPES, EDIT_TYPES, EditType, get_edit_types
from instructgen.records import OutputRecord
from instructgen.review import RecordReview


@attrs.frozen(kw_only=True)
class Palette:
    """A record of a catalog no builtin knows: any family can collect its own."""

    name: str
    colours: tuple[str, ...]
    dist: str = ""


PALETTES: Catalog[Palette] = Catalog("palette", "instructgen_palettes", Palette)


class PaletteSpecs:
    """The family's hookspec, declared through instructgen_addhooks."""

    @pluggy.HookspecMarker("instructgen")
    def instructgen_palettes(self):
        """Register palettes."""


class PaletteFamily:
    @hookimpl
    def instructgen_addhooks(self, pluginmanager):
        pluginmanager.add_hookspecs(PaletteSpecs)

    @hookimpl
    def instructgen_palettes(self):
        yield Palette(name="sea", colours=("blue", "teal"))


class MorePalettes:
    def __init__(self, name: str) -> None:
        self.name = name

    @hookimpl
    def instructgen_palettes(self):
        yield Palette(name=self.name, colours=("red",))


def test_a_new_family_s_catalog_is_collected_typed_with_provenance():
    reg = make_registry([PaletteFamily(), MorePalettes("dusk")], autoload=False)
    found = reg.catalog(PALETTES)
    assert list(found) == ["dusk", "sea"]  # sorted by name
    assert all(isinstance(p, Palette) and p.dist == "embedded" for p in found.values())


def test_a_duplicate_in_any_catalog_names_both_providers():
    reg = make_registry([PaletteFamily(), MorePalettes("sea")], autoload=False)
    with pytest.raises(DuplicatePluginError, match=r"palette 'sea' is provided twice: by "
                                                   r"embedded .*PaletteFamily.* and by embedded"):
        reg.catalog(PALETTES)


def test_a_record_of_the_wrong_type_is_refused():
    class Wrong:
        @hookimpl
        def instructgen_models(self):
            yield SourcePlugin(name="oops", description="x", factory=object)

    with pytest.raises(PluginError, match="instructgen_models yielded SourcePlugin, expected "
                                          "ModelSpec"):
        make_registry([Wrong()], autoload=False).get_models()


def test_models_keep_registration_order_and_plugin_kinds_are_sorted():
    reg = make_registry(autoload=False)
    assert next(iter(reg.get_models())) == "smollm2-135m-instruct"
    assert list(reg.plugins("source")) == sorted(reg.plugins("source"))


def test_one_name_rule_for_plugins_edit_types_and_commands():
    add = next(t for t in BUILTIN_EDIT_TYPES if t.name == "add")
    for label, make in (
        ("plugin", lambda n: GeneratorPlugin(name=n, description="x", factory=object)),
        ("edit type", lambda n: attrs.evolve(add, name=n)),
        ("command", lambda n: CommandSpec(name=n, description="x", register=print)),
    ):
        with pytest.raises(ValueError, match=rf"^{label} name 'Bad-Name' must be lowercase "
                                             r"letters, digits and underscores$"):
            make("Bad-Name")
    # Model names keep their file-like pattern, from the same place.
    ModelSpec(name="qwen2.5-7b", description="x", resolve=lambda b: None, hint="x")
    with pytest.raises(ValueError, match=r"^model name 'Qwen' must be lowercase"):
        ModelSpec(name="Qwen", description="x", resolve=lambda b: None, hint="x")


# -- a family's own hooks ------------------------------------------------------------------


class WeatherTypes:
    """A third-party plugin providing edit types only."""

    @hookimpl
    def instructgen_edit_types(self):
        yield from ()


def test_the_edit_types_hook_comes_from_the_edits_family():
    reg = make_registry(autoload=False)
    assert "instructgen_edit_types" in reg.hookspecs()
    assert reg.hookspecs()["instructgen_edit_types"].__module__ == \
        "instructgen.plugins.edits.hookspecs"
    assert isinstance(next(iter(get_edit_types(reg).values())), EditType)
    blocked = make_registry(autoload=False, block=["edits"])
    assert "instructgen_edit_types" not in blocked.hookspecs()


@pytest.mark.reliability(failure="a plugin implements a hook no loaded plugin declares (a typo, "
                                 "or edit types with the edits family blocked)",
                         user_sees="… implements instructgen_edit_types, a hook no loaded plugin "
                                   "declares: … (blocked: instructgen.plugins.edits); fix the "
                                   "name, or block this plugin too (-p no:…)",
                         exit_code=2, kept="nothing is run")
@pytest.mark.slow
def test_an_undeclared_hook_is_one_clear_line(tmp_path):
    # Installed for real: an entry-point plugin with edit types, and the edits family blocked.
    (tmp_path / "ig_weather.py").write_text(
        "from instructgen import hookimpl\n\n@hookimpl\ndef instructgen_edit_types():\n"
        "    yield from ()\n")
    info = tmp_path / "ig_weather-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ig_weather\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[instructgen]\nweather = ig_weather\n")
    out = subprocess.run([sys.executable, "-m", "instructgen", "-p", "no:edits", "plugins"],
                         capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert ("ig_weather 1.0 (weather) implements instructgen_edit_types, a hook no loaded "
            "plugin declares") in out.stderr and "-p no:weather" in out.stderr
    ok = subprocess.run([sys.executable, "-m", "instructgen", "-p", "no:edits", "-p",
                         "no:weather", "plugins", "--json"], capture_output=True, text=True,
                        timeout=120, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert ok.returncode == 0, ok.stderr

    with pytest.raises(PluginError) as err:
        make_registry([WeatherTypes()], autoload=False, block=["edits"])
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("embedded (WeatherTypes-0) implements instructgen_edit_types, a "
                              "hook no loaded plugin declares")
    assert "(blocked: instructgen.plugins.edits)" in message
    assert "-p no:WeatherTypes-0" in message

    class Typo:
        @hookimpl
        def instructgen_sourcez(self):
            yield from ()

    with pytest.raises(PluginError, match="implements instructgen_sourcez, a hook no loaded"):
        make_registry([Typo()], autoload=False)


# -- commands --------------------------------------------------------------------------------


def _hello(sub):
    p = sub.add_parser("hello", help="say hello")
    p.set_defaults(func=lambda args: print(f"hello, {len(args.registry.plugins('source'))} sources")
                   or 0)


def test_a_plugin_adds_a_command_that_gets_the_registry(capsys):
    from instructgen.cli import build_parser

    mod = types.ModuleType("hello_plugin")
    mod.instructgen_commands = hookimpl(
        lambda: [CommandSpec(name="hello", description="say hello", register=_hello)])
    reg = make_registry([mod], autoload=False)
    args = build_parser(reg).parse_args(["hello"])
    assert args.registry is reg and args.func(args) == 0
    assert capsys.readouterr().out.startswith("hello, ")


def test_a_command_may_not_take_a_core_name():
    from instructgen.cli import build_parser

    mod = types.ModuleType("run_plugin")
    mod.instructgen_commands = hookimpl(
        lambda: [CommandSpec(name="run", description="x", register=_hello)])
    with pytest.raises(PluginError, match="command 'run' is taken by instructgen itself"):
        build_parser(make_registry([mod], autoload=False))


def test_concepts_is_a_command_of_the_concepts_family():
    from instructgen.cli import build_parser

    def commands(reg):
        parser = build_parser(reg)
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return set(sub.choices)

    assert "concepts" in commands(make_registry(autoload=False))
    assert "concepts" not in commands(make_registry(autoload=False, block=["concepts"]))


@pytest.mark.slow
def test_cli_block_flag_is_read_before_the_commands_are_built():
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "instructgen", *args], capture_output=True,
                              text=True, timeout=120)

    out = cli("-p", "no:concepts", "concepts", "stats", "x.json")
    assert out.returncode == 2 and "invalid choice: 'concepts'" in out.stderr
    assert cli("concepts", "--help").returncode == 0


# -- typed hook methods ------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def instructgen_run_start(self, manifest):
        self.calls.append(f"start {manifest}")

    @hookimpl
    def instructgen_review_record(self, review):
        review.veto("no thanks", by="recorder")

    @hookimpl
    def instructgen_run_end(self, manifest, summary):
        self.calls.append(f"end {manifest} {summary}")


def test_lifecycle_hooks_are_called_through_typed_methods():
    recorder = Recorder()
    reg = make_registry([recorder], autoload=False, builtins=False)
    assert reg.reviews_records
    assert not make_registry(autoload=False, builtins=False).reviews_records
    reg.run_start("m")  # type: ignore[arg-type]
    review = RecordReview(OutputRecord(id="r1", item_id="1", generator="g", data={}))
    reg.review_record(review)
    reg.run_end("m", "s")  # type: ignore[arg-type]
    assert recorder.calls == ["start m", "end m s"]
    assert review.vetoed and review.vetoed_by == "recorder"


# -- edit types at plan time ---------------------------------------------------------------


def _edit_recipe(tmp_path, types):
    items = tmp_path / "in.jsonl"
    items.write_text('{"caption": "A dog in a park."}\n')
    return {"output_dir": str(tmp_path / "run"), "backend": {"name": "fake"},
            "source": {"name": "jsonl", "path": str(items)},
            "generator": {"name": "edit", "types": types}}


def test_unknown_edit_types_fail_at_plan_time_with_their_key_path(tmp_path):
    from instructgen.api import plan
    from instructgen.errors import RecipeError

    with pytest.raises(RecipeError, match=r"generator\.types\[1\]: unknown edit type "
                                          r"'colour_alter'; did you mean 'color_alter'\?"):
        plan(_edit_recipe(tmp_path, ["add", "colour_alter"]), autoload=False)
    the_plan, _ = plan(_edit_recipe(tmp_path, ["add"]), autoload=False)
    assert the_plan.context is not None
    assert set(the_plan.context.catalog(EDIT_TYPES)) == {t.name for t in BUILTIN_EDIT_TYPES}
