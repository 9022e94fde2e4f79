"""AnyEdit's own files back in (issue 28 points 5, 6 and 7).

The files are written here in each of the reference's forms: an instruction file of
JSON lines with spaced keys (``mscoco_remove_-100.jsonl``), an image stage's output
(one JSON list, ``edit object`` and ``edited_file``), and the multi-turn forms (a JSON
list of arrays, and one array a line).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from builtin_types import apply_rule

from instructgen.backends.fake import FakeBackend
from instructgen.errors import RecipeError
from instructgen.plugins.datasets.anyedit_records import (
    AnyEditRecordsOptions,
    AnyEditRecordsSource,
)
from instructgen.plugins.datasets.anyword import AnyWordOptions, AnyWordSource
from instructgen.plugins.edits.rules import RuleContext, RulesOptions
from instructgen.plugins.edits.rules.references import ReferencePool
from instructgen.records import SourceItem

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "edits"
FAKE = {"name": "fake"}

REMOVE = {"edit": "Remove the pillow from the couch", "edited object": "pillow",
          "input": "A dog on a couch next to a pillow.", "output": "A dog on a couch.",
          "edit_type": "remove", "image_file": "COCO_train2014_000000000101.jpg"}
REPLACE = {"edit": "Replace the cat with a bus", "edited object": "cat", "new object": "bus",
           "input": "A cat on a road.", "output": "A bus on a road.", "edit_type": "replace",
           "image_file": "COCO_train2014_000000000102.jpg"}


def _items(path: Path, **options) -> list[SourceItem]:
    return list(AnyEditRecordsSource(AnyEditRecordsOptions(path=path, **options)))


def test_instruction_file_of_json_lines_with_spaced_keys(tmp_path):
    path = tmp_path / "mscoco_remove_-100.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (REMOVE, REPLACE)) + "\n")
    items = _items(path)
    assert [i.data["edit_type"] for i in items] == ["remove", "replace"]
    assert items[0].data["edited_object"] == "pillow" and "edited object" not in items[0].data
    assert items[1].data["new_object"] == "bus"
    assert items[0].data["caption"] == REMOVE["input"]
    assert [i.data["edit_type"] for i in _items(path, edit_types=["replace"])] == ["replace"]


def test_image_stage_output_is_one_json_list_with_edit_object(tmp_path):
    staged = [{**{k: v for k, v in REMOVE.items() if k != "edited object"},
               "edit object": "pillow", "edited_file": "out/remove/edited_img/101_0.jpg"}]
    path = tmp_path / "final_edit_results_-1_-1.json"
    path.write_text(json.dumps(staged, indent=4))
    (item,) = _items(path)
    assert item.data["edited_object"] == "pillow"
    assert item.data["edited_file"] == "out/remove/edited_img/101_0.jpg"


@pytest.mark.parametrize("form", ["json_list_of_arrays", "array_per_line", "one_array"])
def test_multi_turn_arrays_give_one_item_per_turn(tmp_path, form):
    chain = [{"input": REMOVE["input"], "image_file": "1.jpg"}, REMOVE, REPLACE]
    path = tmp_path / "multi_turn.json"
    if form == "json_list_of_arrays":
        path.write_text(json.dumps([chain, chain]))
    elif form == "array_per_line":
        path.write_text(json.dumps(chain) + "\n" + json.dumps(chain) + "\n")
    else:
        path.write_text(json.dumps(chain))
    items = _items(path)
    chains = 1 if form == "one_array" else 2
    assert len(items) == 2 * chains
    assert [i.data["turn"] for i in items[:2]] == [1, 2]
    assert items[1].data["edit_type"] == "replace" and items[1].data["new_object"] == "bus"


def test_a_record_without_edit_type_names_file_and_place(tmp_path):
    from instructgen.errors import UserError

    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(REMOVE) + "\n" + json.dumps({"edit": "x"}) + "\n")
    with pytest.raises(UserError, match=r"bad\.jsonl: line 2: edit_type: missing"):
        _items(path)


def test_anyedit_files_feed_movement_resize_and_visual_reference(tmp_path, run_recipe):
    path = tmp_path / "mscoco.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (REMOVE, REPLACE)) + "\n")
    res = run_recipe({"seed": 2, "backend": FAKE, "sink": {"name": "anyedit"},
                      "source": {"name": "anyedit_records", "path": str(path)},
                      "generator": {"name": "edit_rules",
                                    "types": ["movement", "resize", "visual_reference"]}},
                     backend=FakeBackend())
    kinds = sorted(r.data["edit_type"] for r in res.records)
    assert kinds == ["movement", "resize", "visual_reference"]


# -- point 5: visual_reference from a pool of reference images ---------------------------


def _pool(tmp_path: Path, mapping: str) -> tuple[Path, Path]:
    folder = tmp_path / "visual_input"
    folder.mkdir()
    for name in ("jellycat_01.jpg", "jellycat_02.jpg", "notes.txt"):
        (folder / name).write_bytes(b"x")
    table = tmp_path / "visual_reference_concept_mapping.jsonl"
    table.write_text(mapping)
    return folder, table


def test_reference_pool_picks_an_image_whose_category_fits(tmp_path):
    folder, table = _pool(tmp_path, json.dumps({"jellycat_01.jpg": {"animals": ["bus"]}}) + "\n"
                          + json.dumps({"jellycat_02.jpg": {"animals": ["rabbit"]}}) + "\n")
    options = RulesOptions(reference_images=str(folder), reference_mapping=str(table))
    pool = ReferencePool.load(options.reference_images, options.reference_mapping)
    assert pool.images == (("jellycat_01.jpg", "bus"), ("jellycat_02.jpg", "rabbit"))
    data = {"edit_type": "replace", "input": REPLACE["input"], "output": REPLACE["output"],
            "edited_object": "cat", "new_object": "buses", "image_file": "1.jpg"}
    rc = RuleContext(SourceItem(id="i", data=data), None, random.Random(0), options, pool)
    made = apply_rule("visual_reference", rc)
    assert made["visual_input"] == "jellycat_01.jpg" and made["ref_object"] == "bus"
    assert made["output"] == "A [V*] on a road." and "[V*]" in made["edit"]
    # Nothing in the pool fits a windmill: no record, unless any image will do.
    windmill = RuleContext(SourceItem(id="i", data={**data, "new_object": "windmill"}), None,
                           random.Random(0), options, pool)
    assert apply_rule("visual_reference", windmill) is None
    anyway = RuleContext(windmill.item, None, random.Random(0),
                         RulesOptions(reference_match="any"), pool)
    assert apply_rule("visual_reference", anyway)["ref_object"] in {"bus", "rabbit"}


def test_reference_pool_mistakes_are_one_line_recipe_errors(tmp_path):
    folder, table = _pool(tmp_path, json.dumps({"other.jpg": "bear"}))
    with pytest.raises(RecipeError, match="none of the 2 images"):
        ReferencePool.load(str(folder), str(table))
    with pytest.raises(RecipeError, match=r"reference_images: .* is not a folder"):
        ReferencePool.load(str(tmp_path / "nope"), str(table))
    with pytest.raises(RecipeError, match="go together"):
        ReferencePool.load(str(folder), "")


# -- point 7: one text per caption (AnyWord) ---------------------------------------------


def test_anyword_one_text_per_caption_keeps_single_text_images():
    every = list(AnyWordSource(AnyWordOptions(path=EXAMPLES / "anyword_data.json")))
    source = AnyWordSource(AnyWordOptions(path=EXAMPLES / "anyword_data.json",
                                          texts_per_caption="one"))
    one = list(source)
    assert one and all(len(i.data["texts"]) == 1 for i in one)
    several = [i for i in every if len(i.data["texts"]) > 1]
    assert len(one) == len(every) - len(several)
    assert source.stats().get("skipped_several_texts", 0) == len(several)


def test_anyedit_files_feed_the_edit_generator_their_captions(tmp_path, run_recipe):
    path = tmp_path / "mscoco.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (REMOVE, REPLACE)) + "\n")
    res = run_recipe({"seed": 2, "backend": FAKE,
                      "source": {"name": "anyedit_records", "path": str(path)},
                      "generator": {"name": "edit", "types": ["add"], "attempts": 1}},
                     backend=FakeBackend())
    seen = [r.data["input"] for r in res.records] + [
        r.data["input"] for r in res.rejections if r.data and "input" in r.data]
    assert sorted(set(seen)) == sorted({REMOVE["input"], REPLACE["input"]})
