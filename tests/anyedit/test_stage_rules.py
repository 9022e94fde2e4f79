"""Each of AnyEdit's downstream rules, as a named check: a record it passes and one it stops.

The records are in AnyEdit's form, as the ``anyedit`` sink writes them. Every rule in
``STAGE_RULES`` must have a case here (``test_every_rule_has_a_case``), and the docs
table names this test for each rule.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instructgen import Generator, GeneratorPlugin, hookimpl
from instructgen.plugins.anyedit.stage_rules import (
    STAGE_RULES,
    answer_checks,
    rules_for,
    stage_rules_table,
    strip_final_punctuation,
)
from instructgen.plugins.edits import BUILTIN_EDIT_TYPES

_COLOUR = {"edit_type": "color_alter", "edit": "Change the car to blue", "edited object": "car",
           "input": "A red car on a road.", "output": "A blue car on a road."}
_ACTION = {"edit_type": "action_change", "edit": "Change the dog's action to running",
           "edited object": "dog", "input": "A dog sitting on grass.",
           "output": "A dog running on grass."}
_APPEAR = {"edit_type": "appearance_alter", "edit": "Give the dog a fluffy coat",
           "edited object": "dog", "input": "A dog on a bench.",
           "output": "A dog with a fluffy coat on a bench."}
_REMOVE = {"edit_type": "remove", "edit": "Remove the pillow from the couch",
           "edited object": "pillow", "input": "A dog on a couch next to a pillow.",
           "output": "A dog on a couch."}
_REPLACE = {"edit_type": "replace", "edit": "Replace the cat with a bus", "edited object": "cat",
            "new object": "bus", "input": "A cat on a road.", "output": "A bus on a road."}
_COND = {"edit_type": "visual_depth", "edit": "Remove the cup marked by the depth map",
         "edit object": "cup", "input": "A cup.", "output": "A table.",
         "image_file": "coco/1.jpg", "edited_file": "anyedit/remove/edited_img/1_0.jpg"}

#: rule name -> (a record that passes, a record that fails), both of the rule's types.
CASES: dict[str, tuple[dict, dict]] = {
    "stage_edit_final_punctuation": (_COLOUR, {**_COLOUR, "edit": "Change the car to blue."}),
    "stage_colour_one_to": (_COLOUR, {**_COLOUR, "edit": "Change the tomato to red",
                                      "edited object": "tomato"}),
    "stage_colour_once_in_output": (
        _COLOUR, {**_COLOUR, "output": "A blue car next to a blue barn."}),
    "stage_object_word_in_input": (_COLOUR, {**_COLOUR, "edited object": "red Car"}),
    "stage_object_in_input": (_APPEAR, {**_APPEAR, "edited object": "small dog"}),
    "stage_appearance_colour_word": (_APPEAR, {**_APPEAR, "edit": "Give the dog a color coat"}),
    "stage_appearance_person": (_APPEAR, {**_APPEAR, "edit": "Turn the dog into a woman"}),
    "stage_appearance_size": (_APPEAR, {**_APPEAR, "edit": "Make the dog bigger"}),
    "stage_object_in_edit": (_REMOVE, {**_REMOVE, "edited object": "men",
                                       "edit": "Remove one man"}),
    "stage_background_in_local_edit": (
        _REMOVE, {**_REMOVE, "edit": "Remove the pillow in the background"}),
    "stage_replace_person": (_REPLACE, {**_REPLACE, "new object": "flowers",
                                        "edit": "Replace the cat with flowers"}),
    "stage_remove_number": (
        {"edit_type": "counting", "remove_number": 2},
        {"edit_type": "counting", "remove_number": "two"}),
    "stage_background_in_input": (
        {"edit_type": "background_change", "new background": "snowy forest",
         "input": "A dog on a beach."},
        {"edit_type": "background_change", "new background": "sandy beach",
         "input": "A dog on a beach."}),
    "stage_action_after_last_to": (_ACTION, {**_ACTION, "edit": "Make the dog start to be"}),
    "stage_action_in_input": (_ACTION, {**_ACTION, "input": "A dog runs on grass."}),
    "stage_action_clauses": (_ACTION, {**_ACTION, "output": "A dog running, on grass."}),
    "stage_reference_token": (
        {"edit_type": "visual_reference", "edit": "Replace the cat with the [V*]",
         "output": "A [V*] on a road."},
        {"edit_type": "visual_reference", "edit": "Replace the cat with the [V*]",
         "output": "A teddy bear on a road."}),
    "stage_rotation_wording": (
        {"edit_type": "rotation_change", "edit": "Rotate the chair clockwise"},
        {"edit_type": "rotation_change", "edit": "Rotate the chair to face left"}),
    "stage_relation_object": (
        {"edit_type": "relation", "edited object": "cup", "direction": "left"},
        {"edit_type": "relation", "edited object": "cup", "direction": "above"}),
    "stage_visual_condition_files": (_COND, {**_COND, "edited_file": "out/1_0.jpg"}),
    "stage_textual_files": (
        {"edit_type": "textual_change", "image_file": "input_img/1.jpg",
         "edited_file": "edited_img/1.jpg"},
        {"edit_type": "textual_change", "image_file": "/data/anyword/1.jpg",
         "edited_file": "edited_img/1.jpg"}),
    "stage_type_name": ({"edit_type": "outpainting"}, {"edit_type": "outpaint"}),
}


def test_every_rule_has_a_case():
    assert set(CASES) == {r.name for r in STAGE_RULES}


@pytest.mark.parametrize("rule", STAGE_RULES, ids=lambda r: r.name)
def test_each_rule_passes_and_fails(rule):
    good, bad = CASES[rule.name]
    assert good["edit_type"] in rule.types
    assert rule(good) is None
    why = rule(bad)
    assert isinstance(why, str) and why


def test_answer_checks_read_an_answer_with_our_field_names():
    color_alter = next(t for t in BUILTIN_EDIT_TYPES if t.name == "color_alter")
    checks = {c.name: c for c in answer_checks(color_alter.contract())}
    result = {"edit": "Change the car to blue", "edited_object": "car",
              "output": "A blue car on a road."}
    assert all(c("A red car on a road.", result) is None for c in checks.values())
    assert checks["stage_colour_once_in_output"]("A red car.", {**result, "output": "A car."})
    # Record-level rules (files, names) are left to the sink.
    assert "stage_type_name" not in checks
    assert {r.name for r in rules_for("outpaint")} == {r.name for r in rules_for("outpainting")}


def test_final_punctuation_is_stripped_to_anyedit_form():
    assert strip_final_punctuation("Make the car red. ") == "Make the car red"
    assert strip_final_punctuation("Turn it to blue") == "Turn it to blue"


def test_the_docs_table_names_each_rule_and_its_test():
    table = stage_rules_table()
    page = Path(__file__).resolve().parents[2] / "docs" / "anyedit.md"
    assert table in page.read_text(encoding="utf-8"), \
        "regenerate it: python -m instructgen.plugins.anyedit.stage_rules"
    for rule in STAGE_RULES:
        assert f"`{rule.name}`" in table
        assert f"test_each_rule_passes_and_fails[{rule.name}]" in table


class _Replay(Generator):
    """Yields each item's data as it is: records a generator without the checks made."""

    async def generate(self, item, ctx):
        return [{k: v for k, v in item.data.items() if k != "id"}]


class _ReplayPlugin:
    @hookimpl
    def instructgen_generators(self):
        yield GeneratorPlugin(name="replay", description="test", factory=lambda o: _Replay())


def test_the_sink_leaves_out_and_counts_what_the_stage_rules_drop(tmp_path, run_recipe, capsys):
    good = {**_COLOUR, "edited_object": "car"}
    rows = [{"id": "good", **good},
            {"id": "period", **good, "edit": "Change the car to blue."},
            {"id": "background", **_REMOVE, "edited_object": "pillow",
             "edit": "Remove the pillow in the background"}]
    for row in rows:
        row.pop("edited object", None)
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = {"seed": 1, "backend": {"name": "fake"}, "generator": {"name": "replay"},
              "source": {"name": "jsonl", "path": str(path)}, "sink": {"name": "anyedit"}}
    res = run_recipe(recipe, plugins=[_ReplayPlugin()])
    assert res.summary.accepted == 3  # records.jsonl keeps them all
    lines = (res.run_dir / "anyedit.jsonl").read_text().splitlines()
    assert [json.loads(x)["edit"] for x in lines] == [good["edit"]]
    report = json.loads((res.run_dir / "anyedit_stage_rules.json").read_text())
    assert report == {"file": "anyedit.jsonl", "checked": 3, "written": 1, "dropped": 2,
                      "dropped_by_rule": {"stage_background_in_local_edit": 1,
                                          "stage_edit_final_punctuation": 1}}
    assert "2 of 3 records left out of anyedit.jsonl" in capsys.readouterr().err
    off = run_recipe({**recipe, "output_dir": str(tmp_path / "off"),
                      "sink": {"name": "anyedit", "stage_rules": "off"}},
                     plugins=[_ReplayPlugin()])
    assert len((off.run_dir / "anyedit.jsonl").read_text().splitlines()) == 3
    assert not (off.run_dir / "anyedit_stage_rules.json").exists()
