"""Rule-derived edit types (``edit_rules``): no model calls, and every record says its origin."""

from __future__ import annotations

import json
import random
import tomllib
from pathlib import Path

import pytest
from attrs import frozen
from builtin_types import apply_rule
from edit_fakes import FAKE, jsonl_source

from instructgen import hookimpl, make_registry
from instructgen.backends.fake import FakeBackend
from instructgen.errors import PluginError, RecipeError
from instructgen.plugins.anyedit.contract import Key
from instructgen.plugins.edits import RuleType
from instructgen.plugins.edits.nouns import singular
from instructgen.plugins.edits.rules import RuleContext, RuleEdit, RulesOptions
from instructgen.plugins.edits.rules.from_records import with_material
from instructgen.plugins.edits.rules.helpers import derived
from instructgen.records import SourceItem
from instructgen.text import mentions

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "edits"


def rc(caption=None, seed=1, **data):
    if caption is not None:
        data["caption"] = caption
    item = SourceItem(id="it", data=data)
    return RuleContext(item, caption, random.Random(seed), RulesOptions())


@pytest.mark.parametrize("seed", range(6))
def test_counting_removes_k_of_n(seed):
    out = apply_rule("counting", rc("Four boats floating in a calm harbor.", seed))
    left = out["count_after"]
    assert out["count_before"] == 4 and 1 <= left <= 3
    word = {1: "One", 2: "Two", 3: "Three"}[left]
    noun = "boat" if left == 1 else "boats"
    assert out["output"] == f"{word} {noun} floating in a calm harbor."
    # The edit names the object as the caption does; AnyEdit's stage needs it in the edit.
    assert out["edited_object"] == "boats" and "boats" in out["edit"]
    assert out["derived_from"] == {"item_id": "it", "rule": "number_before_noun",
                                   "match": "Four boats"}


def test_counting_handles_digits_adjectives_and_irregular_plurals():
    out = apply_rule("counting", rc("A plate with 2 small pickles on a table."))
    assert out["output"] == "A plate with 1 small pickle on a table."
    out = apply_rule("counting", rc("Three children playing in the snow.", seed=4))
    assert out["edited_object"] == "children" and "children" in out["edit"]
    assert apply_rule("counting", rc("A dog on a couch.")) is None
    assert apply_rule("counting", rc("One dog on a couch.")) is None
    assert apply_rule("counting", rc("A bus with 12 seats.")) is None  # only 2 to 10


def test_singular_and_material_helpers():
    assert [singular(w) for w in ("boats", "benches", "puppies", "mice", "sheep")] == [
        "boat", "bench", "puppy", "mouse", "sheep"]
    assert with_material("A cat on a wooden chair.", "chair", "glass") == \
        "A cat on a glass chair."
    assert with_material("Two chairs by a door.", "chair", "marble") == \
        "Two marble chairs by a door."
    assert with_material("A dog.", "piano", "glass") is None


REMOVE = {"edit_type": "remove", "input": "A dog sitting next to a fire hydrant.",
          "output": "A dog sitting.", "edited_object": "the fire hydrant",
          "record_id": "r1", "record_generator": "edit", "image_file": "1.jpg",
          "edited_file": "anyedit/remove/edited_img/1_0.jpg"}
REPLACE = {"edit_type": "replace", "input": "A cat on a wooden chair.",
           "output": "A cat on a sofa.", "edited_object": "chair", "new_object": "sofa",
           "record_id": "r2", "record_generator": "edit", "image_file": "2.jpg",
           "edited_file": "anyedit/replace/edited_img/2.jpg"}


@pytest.mark.parametrize("name", ["movement", "resize"])
def test_movement_and_resize_come_from_remove_records(name):
    out = apply_rule(name, rc(**REMOVE))
    assert out["edited_object"] == "fire hydrant" and "fire hydrant" in out["edit"]
    assert out["input"] == REMOVE["input"]
    assert out["derived_from"] == {"item_id": "it", "record_id": "r1", "generator": "edit",
                                   "edit_type": "remove"}
    assert apply_rule(name, rc(**REPLACE)) is None


def test_visual_reference_and_material_transfer_come_from_replace_records():
    ref = apply_rule("visual_reference", rc(**REPLACE))
    # AnyEdit's visual stages name the reference image [V*] (was "[reference image]"),
    # in the edit and, in place of the object, in the output.
    assert "[V*]" in ref["edit"] and ref["output"] == "A cat on a wooden [V*]."
    assert ref["new_object"] == "sofa" and ref["derived_from"]["record_id"] == "r2"
    mat = apply_rule("visual_material_transfer", rc(**REPLACE))
    assert mentions(mat["output"], f"{mat['material']} chair")
    assert "wooden" not in mat["output"] or mat["material"] == "wooden"
    assert apply_rule("visual_reference", rc(**REMOVE)) is None


@pytest.mark.parametrize("name", ["visual_sketch", "visual_scribble", "visual_segment",
                                  "visual_depth", "visual_bbox"])
def test_visual_conditions_come_from_replace_and_remove(name):
    for data in (REMOVE, REPLACE):
        out = apply_rule(name, rc(**data))
        assert out["condition"] in out["edit"]
        assert out["output"] == data["output"]
        assert out["derived_from"]["edit_type"] == data["edit_type"]
    assert apply_rule(name, rc(**{**REPLACE, "edit_type": "add"})) is None


def test_style_change_uses_the_style_list():
    out = apply_rule("style_change", rc("A dog on a couch."))
    assert out["output"] == f"{_article(out['style'])} of a dog on a couch."
    assert out["derived_from"]["style"] == out["style"]


def _article(style):
    return ("An " if style[0] in "aeiou" else "A ") + style


def test_rules_run_without_model_calls_and_keep_the_image(tmp_path, run_recipe):
    rows = [{"id": "1", "caption": "Two dogs on a couch.", "image_file": "1.jpg"},
            {"id": "2", "caption": "A cat.", "image_file": "2.jpg"}]
    backend = FakeBackend()
    res = run_recipe({"backend": FAKE, "source": jsonl_source(tmp_path / "in.jsonl", rows),
                      "generator": {"name": "edit_rules", "types": ["counting"]}},
                     backend=backend)
    assert len(backend.calls) == 0
    assert [(r.data["image_file"], r.data["output"]) for r in res.records] == [
        ("1.jpg", "One dog on a couch.")]
    assert [(r.item_id, r.reason) for r in res.rejections] == [("2", "no_rule_applies")]


def test_unknown_rule_type_names_its_key_path(tmp_path, run_recipe):
    src = jsonl_source(tmp_path / "in.jsonl", [{"id": "1", "caption": "x"}])
    with pytest.raises(RecipeError, match=r"generator.types\[1\]: unknown rule-derived type "
                                          r"'movment'; did you mean 'movement'\?"):
        run_recipe({"backend": FAKE, "source": src,
                    "generator": {"name": "edit_rules", "types": ["counting", "movment"]}},
                   backend=FakeBackend())


def test_example_rules_recipe_from_records(tmp_path, run_recipe, monkeypatch):
    monkeypatch.chdir(EXAMPLES.parents[1])
    recipe = tomllib.loads((EXAMPLES / "rules_from_records.toml").read_text())
    recipe.update(backend=FAKE, output_dir=str(tmp_path / "out"))
    res = run_recipe(recipe, backend=FakeBackend())
    # 2 remove records × (movement, resize) + 3 replace × (reference, material); the
    # colour record is filtered out by the source.
    assert res.summary.accepted == 2 * 2 + 3 * 2
    kinds = {r.data["edit_type"] for r in res.records}
    assert kinds == set(recipe["generator"]["types"])
    assert all(r.data["derived_from"]["record_id"] == r.item_id for r in res.records)
    lines = (tmp_path / "out" / "anyedit.jsonl").read_text().splitlines()
    assert len(lines) == res.summary.accepted
    assert "edited object" in json.loads(lines[0])
    assert res.manifest["source_stats"] == {"skipped_other_edit_type": 1}


def test_example_rules_recipe_from_the_image_stage(tmp_path, run_recipe, monkeypatch):
    """visual_* come from the remove/replace image stage's output, with its edited_file."""
    monkeypatch.chdir(EXAMPLES.parents[1])
    recipe = tomllib.loads((EXAMPLES / "rules_from_stage.toml").read_text())
    recipe.update(backend=FAKE, output_dir=str(tmp_path / "out"))
    res = run_recipe(recipe, backend=FakeBackend())
    assert res.summary.accepted == 5 * 5  # 2 remove + 3 replace records, 5 conditions each
    lines = [json.loads(x) for x in (tmp_path / "out" / "anyedit.jsonl").read_text().splitlines()]
    assert len(lines) == 25
    for obj in lines:
        assert obj["edit object"] and "edited object" not in obj
        assert {"remove", "replace"} & set(obj["edited_file"].split("/"))


def test_visual_conditions_without_the_image_stage_say_why(tmp_path, run_recipe, monkeypatch):
    monkeypatch.chdir(EXAMPLES.parents[1])
    recipe = tomllib.loads((EXAMPLES / "rules_from_records.toml").read_text())
    recipe["generator"]["types"] = ["visual_depth"]
    recipe.update(backend=FAKE, output_dir=str(tmp_path / "out"))
    res = run_recipe(recipe, backend=FakeBackend())
    assert res.summary.accepted == 0
    assert res.summary.rejection_reasons["visual_after_image_stage"] == 5
    why = next(r.detail for r in res.rejections if r.reason == "visual_after_image_stage")
    assert "after AnyEdit's remove/replace image stage" in why


# -- a plugin's rule-derived type (issue 26 point 3) ----------------------------------------


@frozen(kw_only=True)
class Flip(RuleEdit):
    direction: str


def _flip(rc: RuleContext) -> Flip | None:
    if rc.caption is None:
        return None
    return Flip(edit="Mirror the picture left to right", input=rc.caption, output=rc.caption,
                direction="horizontal", derived_from=derived(rc.item, rule="flip"))


class FlipPlugin:
    """A third-party plugin adding one rule-derived type, with the key AnyEdit would read."""

    def __init__(self, rule=_flip):
        self.rule = rule

    @hookimpl
    def instructgen_rule_types(self):
        yield RuleType(name="flip", description="mirror the whole picture", rule=self.rule,
                       payload=Flip, anyedit=(Key("flip direction", "direction"),))


def test_a_plugins_rule_type_runs_declares_its_keys_and_reaches_the_sink(tmp_path, run_recipe):
    from instructgen.plugin import BuildContext

    rows = [{"id": "1", "caption": "Two dogs on a couch.", "image_file": "1.jpg"}]
    res = run_recipe({"backend": FAKE, "source": jsonl_source(tmp_path / "in.jsonl", rows),
                      "generator": {"name": "edit_rules", "types": ["flip", "counting"]},
                      "sink": {"name": "anyedit"}},
                     plugins=[FlipPlugin()], backend=FakeBackend())
    assert [r.data["edit_type"] for r in res.records] == ["flip", "counting"]
    flip = res.records[0].data
    assert flip["direction"] == "horizontal" and flip["derived_from"]["rule"] == "flip"
    lines = [json.loads(x) for x in (res.run_dir / "anyedit.jsonl").read_text().splitlines()]
    assert lines[0]["flip direction"] == "horizontal"
    # The plan's keys for it are read off the payload class.
    registry = make_registry([FlipPlugin()], autoload=False)
    spec = registry.get("generator", "edit_rules")
    ctx = BuildContext(registry, "generator")
    keys = spec.produces(spec.prepare(RulesOptions(types=["flip"]), ctx), ctx)
    assert keys.always == {"edit_type", "edit", "input", "output", "direction", "derived_from"}
    # Types left unnamed means every registered one, the plugin's among them.
    every = spec.prepare(RulesOptions(), ctx).types
    assert "flip" in [t.name for t in every] and len(every) == 16


def test_a_rule_that_returns_the_wrong_class_is_a_plugin_error(tmp_path, run_recipe):
    def loose(rc):
        return {"edit": "Mirror it", "input": rc.caption, "output": rc.caption}

    rows = [{"id": "1", "caption": "A dog on a couch."}]
    with pytest.raises(PluginError, match=r"'flip'.*returned dict, not Flip"):
        run_recipe({"backend": FAKE, "source": jsonl_source(tmp_path / "in.jsonl", rows),
                    "generator": {"name": "edit_rules", "types": ["flip"]}},
                   plugins=[FlipPlugin(loose)], backend=FakeBackend())


def test_a_rule_types_payload_must_be_a_rule_edit():
    with pytest.raises(ValueError, match="subclass of RuleEdit"):
        RuleType(name="bad", description="x", rule=_flip, payload=dict)
