"""The eleven builtin edit types, and types from third-party plugins through the hook."""

from __future__ import annotations

import json

import attrs
import pytest
from edit_fakes import FAKE, Scripted, jsonl_source

from instructgen import hookimpl, make_registry
from instructgen.backends.fake import FakeBackend
from instructgen.errors import DuplicatePluginError, RecipeError
from instructgen.plugins.anyedit.contract import Key
from instructgen.plugins.edits import BUILTIN_EDIT_TYPES, EditExample, EditType, get_edit_types
from instructgen.plugins.edits.checks import output_differs, uses_a_verb
from instructgen.plugins.edits.prefilter import HeuristicAnalyzer
from instructgen.schema import check_schema, validate

NAMES = ["add", "remove", "replace", "color_alter", "appearance_alter", "material_alter",
         "texture_alter", "action_change", "background_change", "tone_transfer", "textual_change"]
FIELDS = {"add": ("edited_object",), "remove": ("edited_object",),
          "replace": ("edited_object", "new_object"), "color_alter": ("edited_object",),
          "appearance_alter": ("edited_object",), "material_alter": ("edited_object",),
          "texture_alter": ("edited_object",), "action_change": ("edited_object",),
          "background_change": ("new_background",), "tone_transfer": ("new_state",),
          "textual_change": ("text_before", "text_after")}
NEEDS = {"remove": "noun", "replace": "noun", "color_alter": "noun", "appearance_alter": "noun",
         "material_alter": "noun", "texture_alter": "noun", "action_change": "verb",
         "textual_change": "quoted_text"}


def test_all_eleven_builtin_types_are_registered_through_the_hook(registry):
    types = get_edit_types(registry)
    assert sorted(types) == sorted(NAMES)
    assert all(t.dist == "instructgen" for t in types.values())


@pytest.mark.parametrize("etype", BUILTIN_EDIT_TYPES, ids=lambda t: t.name)
def test_builtin_type_definition(etype: EditType):
    assert etype.fields == FIELDS[etype.name]
    assert etype.needs == NEEDS.get(etype.name)
    assert len(etype.examples) >= 8 and etype.verbs and etype.judge_question.endswith("?")
    assert len({e.input for e in etype.examples}) == len(etype.examples)
    schema = etype.schema()
    check_schema(schema)
    assert list(schema["properties"]) == ["edit", *etype.fields, "output"]
    assert (etype.scope == "global") == (etype.name in ("background_change", "tone_transfer"))


@pytest.mark.parametrize("etype", BUILTIN_EDIT_TYPES, ids=lambda t: t.name)
def test_every_few_shot_example_passes_its_own_type(etype: EditType):
    analyzer = HeuristicAnalyzer()
    for i, ex in enumerate(etype.examples):
        assert validate(ex.answer(etype.fields), etype.schema()) == [], i
        if etype.needs:
            assert analyzer.has(ex.input, etype.needs), (i, ex.input)
        for check in (*etype.checks, uses_a_verb(etype.verbs)):
            assert check(ex.input, ex.result()) is None, (i, check.name)


def test_checks_catch_a_broken_example():
    replace = next(t for t in BUILTIN_EDIT_TYPES if t.name == "replace")
    ex = replace.examples[0]
    broken = {**ex.result(), "new_object": "woman", "output": ex.output.replace(
        ex.fields["new_object"], "woman")}
    failed = [c.name for c in replace.checks if c(ex.input, broken) is not None]
    assert failed == ["a_person_in_new_object"]


def test_an_edit_type_needs_eight_examples_and_known_fields():
    ex = EditExample(input="A cat.", edit="Make it night.", output="A cat at night.",
                     fields={"new_state": "night"})
    with pytest.raises(ValueError, match="at least 8"):
        _weather([ex] * 7)
    with pytest.raises(ValueError, match="unknown field"):
        EditType(name="x", title="x", description="x", verbs=("make",), fields=("mood",),
                 field_hints={"mood": "m"}, needs=None, examples=[ex] * 8,
                 judge_question="?", checks=())


def _weather(examples):
    return EditType(name="weather_swap", title="weather swap", description="change the weather",
                    verbs=("make",), fields=("new_state",),
                    field_hints={"new_state": "the weather"}, needs=None, examples=examples,
                    judge_question="Is this a weather swap instruction?",
                    checks=(output_differs(),), scope="global")


class WeatherPlugin:
    """A third-party plugin adding one edit type."""

    @hookimpl
    def instructgen_edit_types(self):
        ex = EditExample(input="A cat on a wall.", edit="Make it rain.",
                         output="A cat on a wall in the rain.", fields={"new_state": "rain"})
        yield _weather([ex] * 8)


def test_third_party_types_join_through_the_same_hook(tmp_path, run_recipe):
    registry = make_registry([WeatherPlugin()], autoload=False)
    assert "weather_swap" in get_edit_types(registry)
    src = jsonl_source(tmp_path / "in.jsonl", [{"id": "1", "caption": "A dog in a park."}])

    def edit(caption, req):
        return {"edit": "Make it snow.", "new_state": "snow", "output": "A dog in a snowy park."}

    res = run_recipe({"backend": FAKE, "source": src,
                      "generator": {"name": "edit", "types": ["weather_swap"]}},
                     plugins=[WeatherPlugin()], backend=FakeBackend(responder=Scripted(edit=edit)))
    assert [r.data["edit_type"] for r in res.records] == ["weather_swap"]


def test_a_duplicate_type_name_names_both_providers():
    class Copycat:
        @hookimpl
        def instructgen_edit_types(self):
            yield next(t for t in BUILTIN_EDIT_TYPES if t.name == "add")

    registry = make_registry([Copycat()], autoload=False)
    with pytest.raises(DuplicatePluginError, match=r"'add' is provided twice.*Copycat"):
        get_edit_types(registry)


def test_only_global_types_in_a_chain_is_refused(tmp_path, run_recipe):
    src = jsonl_source(tmp_path / "in.jsonl", [{"id": "1", "caption": "A dog in a park."}])
    with pytest.raises(RecipeError, match=r"generator\.global_last"):
        run_recipe({"backend": FAKE, "source": src,
                    "generator": {"name": "edit", "types": ["tone_transfer"], "turns": 2}},
                   backend=FakeBackend(responder=Scripted()))


# -- everything about a type is on its record (issue 26 point 3) ----------------------------


def _weather_plugin(**more):
    class Plugin:
        @hookimpl
        def instructgen_edit_types(self):
            ex = EditExample(input="A cat on a wall.", edit="Make it rain.",
                             output="A cat on a wall in the rain.", fields={"new_state": "rain"})
            yield attrs.evolve(_weather([ex] * 8), **more)

    return Plugin()


def _snow(caption, req):
    return {"edit": "Make it snow.", "new_state": "snow", "output": "A dog in a snowy park."}


def _anyedit_lines(res) -> list[dict]:
    path = res.run_dir / "anyedit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("declared", [True, False])
def test_a_plugin_types_anyedit_keys_come_from_its_record(tmp_path, run_recipe, declared):
    """Declared keys are written under their AnyEdit names; a type that declares none gets
    its fields under the generic names. Either way the sink learns it from the type."""
    more = {"anyedit": (Key("weather", "new_state", meaning="the new weather"),)} if declared \
        else {}
    plugin = _weather_plugin(**more)
    src = jsonl_source(tmp_path / "in.jsonl", [{"id": "1", "caption": "A dog in a park."}])
    res = run_recipe({"backend": FAKE, "source": src, "sink": {"name": "anyedit"},
                      "generator": {"name": "edit", "types": ["weather_swap"]}},
                     plugins=[plugin], backend=FakeBackend(responder=Scripted(edit=_snow)))
    (line,) = _anyedit_lines(res)
    assert line["edit_type"] == "weather_swap"
    if declared:
        assert line["weather"] == "snow" and "new state" not in line
    else:
        assert line["new state"] == "snow" and "weather" not in line


@pytest.mark.parametrize("joins", [True, False])
def test_the_default_mix_is_the_types_that_say_they_join_it(joins):
    from instructgen.plugin import BuildContext
    from instructgen.plugins.edits.generator import EditOptions, prepare_edit

    registry = make_registry([_weather_plugin(default_mix=joins)], autoload=False)
    ctx = BuildContext(registry, "generator")
    mix = [t.name for t in prepare_edit(EditOptions(), ctx).types]
    assert mix[:len(NAMES)] == NAMES  # the builtins first, in AnyEdit's order
    assert ("weather_swap" in mix) is joins
    named = prepare_edit(EditOptions(types=["weather_swap", "add"]), ctx).types
    assert [t.name for t in named] == ["weather_swap", "add"]


def test_types_are_resolved_at_plan_time_and_unknown_names_fail_validate(tmp_path):
    from instructgen.plugin import BuildContext
    from instructgen.plugins.edits.generator import EditOptions, prepare_edit

    ctx = BuildContext(make_registry(autoload=False), "generator")
    with pytest.raises(RecipeError, match=r"generator\.types\[1\]: unknown edit type 'ad'.*'add'"):
        prepare_edit(EditOptions(types=["replace", "ad"]), ctx)
    with pytest.raises(RecipeError, match=r"generator\.weights: 2 entries for the 11 types"):
        prepare_edit(EditOptions(weights=[1.0, 2.0]), ctx)


def test_edits_work_with_the_anyedit_family_blocked(tmp_path, run_recipe, monkeypatch):
    """The families hand their contracts over through an optional hook: blocking the anyedit
    family leaves the edit generator planning and running (with another sink)."""
    monkeypatch.setenv("INSTRUCTGEN_DISABLE_PLUGINS", "anyedit")
    assert "anyedit" not in make_registry(autoload=False).plugins("sink")
    src = jsonl_source(tmp_path / "in.jsonl", [{"id": "1", "caption": "A dog in a park."}])
    res = run_recipe({"backend": FAKE, "source": src,
                      "generator": {"name": "edit", "types": ["weather_swap"]}},
                     plugins=[_weather_plugin()],
                     backend=FakeBackend(responder=Scripted(edit=_snow)))
    assert [r.data["new_state"] for r in res.records] == ["snow"]
