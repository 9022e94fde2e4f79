"""The AnyEdit contract (issue 12): records AnyEdit's image stages read unchanged.

Two readers check the ``anyedit`` sink's output:

* :func:`read_by_contract`, written from :data:`CONTRACTS` (every type);
* :func:`read_like_anyedit`, written from what AnyEdit's own stages index
  (``return_parameters`` and the relation stage), so the contract itself is
  checked against the reference, key by key, with plain ``[]`` lookups that
  raise ``KeyError`` just as the reference does.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from edit_fakes import FAKE, Scripted, jsonl_source

from instructgen.backends.fake import FakeBackend
from instructgen.plugins.anyedit.contract import (
    ALIASES,
    COMMON_KEYS,
    CONTRACTS,
    RELATION_DIRECTIONS,
    anyedit_keys,
    contract_table,
)
from instructgen.plugins.anyedit.sink import AnyEditOptions, AnyEditSink
from instructgen.plugins.edits import BUILTIN_EDIT_TYPES
from instructgen.plugins.edits.generator import DEFAULT_TYPES, EditOptions
from instructgen.plugins.edits.rules import RULES, RuleContext, RulesOptions
from instructgen.records import OutputRecord, SourceItem

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = DOCS.parent / "examples" / "edits"


# -- the two readers ----------------------------------------------------------------------


def read_by_contract(obj: dict) -> dict:
    """Every key the contract says AnyEdit reads for the record's type, with its kind."""
    etype = obj["edit_type"]
    out = {k: obj[k] for k in COMMON_KEYS}
    if obj["image_file"] is None:
        name = obj["edited_file"]
        assert isinstance(name, str) and "." in name  # AnyEdit splits it on "."
    for key in CONTRACTS[etype].keys:
        if key.required or key.anyedit in obj:
            value = obj[key.anyedit]
        else:
            continue
        assert isinstance(value, int if key.kind == "int" else str), (etype, key)
        out[key.anyedit] = value
    return out


def read_like_anyedit(obj: dict) -> tuple:
    """What AnyEdit's stages index per type (the tuple they unpack), or () for others."""
    etype = obj["edit_type"]
    base = (obj["input"], obj["output"], obj["edit"], obj["image_file"])
    if obj["image_file"] is None:
        obj["edited_file"].split(".")[-2]
    if etype in ("color_alter", "remove", "appearance_alter", "material_alter", "add",
                 "resize", "movement"):
        return (*base, obj["edited object"])
    if etype == "replace":
        return (*base, obj["edited object"], obj["new object"])
    if etype in ("background_change", "tone_transfer"):
        return base
    if etype == "counting":
        return (*base, obj["edited object"], int(obj["remove_number"]))
    if etype == "visual_reference":
        return (*base, obj["edited object"], obj["ref_object"], obj["visual_input"])
    if etype == "relation":
        assert obj["direction"] in RELATION_DIRECTIONS
        return (*base, obj["edited object"], obj.get("target object"), obj["direction"])
    return base


def encode(data: dict, rid: str = "r1", **options) -> dict:
    sink = AnyEditSink(AnyEditOptions(**options))
    return json.loads(sink.encode(OutputRecord(id=rid, item_id="i1", generator="g", data=data)))


# -- one record of every type --------------------------------------------------------------

REMOVE = {"edit_type": "remove", "input": "A dog sitting next to a fire hydrant.",
          "output": "A dog sitting.", "edited_object": "fire hydrant", "record_id": "r1",
          "record_generator": "edit", "image_file": "000000000139.jpg"}
REPLACE = {"edit_type": "replace", "input": "A cat on a wooden chair.",
           "output": "A cat on a sofa.", "edited_object": "chair", "new_object": "sofa",
           "record_id": "r2", "record_generator": "edit", "image_file": "000000000285.jpg"}
OBJECTS = [{"name": "dog", "bbox": [10, 40, 60, 50]}, {"name": "dog", "bbox": [200, 40, 60, 50]},
           {"name": "dog", "bbox": [400, 40, 60, 50]}, {"name": "cup", "bbox": [100, 300, 20, 20]},
           {"name": "bench", "bbox": [300, 250, 200, 100]}]


def _rule_record(name: str, seed: int = 0) -> dict:
    caption = "Three dogs, a cup and a bench in a park."
    for data in (REMOVE, REPLACE, {"caption": caption, "objects": OBJECTS,
                                   "image_size": [640, 480], "image_file": "1.jpg"}):
        item = SourceItem(id="it1", data=data)
        cap = data.get("caption")
        made = RULES[name](RuleContext(item, cap, random.Random(seed), RulesOptions()))
        if made is not None:
            return {"edit_type": name, **made, "image_file": data["image_file"]}
    raise AssertionError(f"no fixture makes a {name} record")


def every_type_record() -> dict[str, dict]:
    records = {}
    for etype in BUILTIN_EDIT_TYPES:
        ex = etype.examples[0]
        records[etype.name] = {"edit_type": etype.name, "input": ex.input, **ex.result(),
                               "image_file": "5.jpg", "judge": "yes"}
    for name in RULES:
        records[name] = _rule_record(name)
    records["implicit_change"] = {
        "edit_type": "implicit_change", "original_caption": "An egg on a kitchen table.",
        "instruction": "What happens if the egg falls?",
        "target_caption": "A broken egg on the kitchen floor.", "keywords": ["egg", "floor"]}
    return records


def test_the_contract_covers_every_type_we_write():
    assert set(every_type_record()) == set(CONTRACTS)


@pytest.mark.parametrize("etype", sorted(CONTRACTS))
def test_every_type_goes_through_the_sink_and_both_readers(etype):
    obj = encode(every_type_record()[etype])
    assert obj["edit_type"] == etype
    read = read_by_contract(obj)
    assert set(anyedit_keys(etype)) <= set(obj)
    assert read["edit"] and read["input"] and read["output"]
    read_like_anyedit(obj)  # raises KeyError where AnyEdit's stage would
    if etype == "visual_reference":
        assert "new object" not in obj and "[V*]" in obj["edit"]


def test_sink_refuses_a_record_without_a_key_its_type_needs():
    from instructgen.errors import UserError

    with pytest.raises(UserError, match=r"record 'r1' \(relation\) has no 'direction'"):
        encode({"edit_type": "relation", "edit": "Move the cup.", "input": "i", "output": "o",
                "edited_object": "cup", "image_file": "1.jpg"})


def test_counting_and_visual_reference_of_older_records_get_the_missing_keys():
    # Records written before the contract (no remove_number, visual_input or ref_object).
    obj = encode({"edit_type": "counting", "edit": "Remove one of the dogs.", "input": "i",
                  "output": "o", "edited_object": "dog", "count_before": 3, "count_after": 2,
                  "image_file": "1.jpg"})
    assert obj["remove_number"] == 1
    obj = encode({"edit_type": "visual_reference", "edit": "Replace the chair with [V*].",
                  "input": "i", "output": "o", "edited_object": "chair",
                  "new_object": "teddy bear", "image_file": "1.jpg"}, visual_input_root="refs")
    assert obj["ref_object"] == "teddy bear"
    assert obj["visual_input"] == "refs/teddy_bear/i1.jpg"
    assert read_like_anyedit(obj)[-1] == "refs/teddy_bear/i1.jpg"


def test_records_without_an_image_name_the_file_to_draw():
    obj = encode({"edit_type": "add", "edit": "Add a hat.", "input": "A man.",
                  "output": "A man in a hat.", "edited_object": "hat"}, rid="cc2cap:7")
    assert obj["image_file"] is None and obj["edited_file"] == "cc2cap_7.jpg"


def test_contract_table_is_in_the_reference_page():
    page = (DOCS / "anyedit.md").read_text(encoding="utf-8")
    assert contract_table() in page


# -- point 2: AnyEdit's names, the old ones as aliases -------------------------------------


def test_old_type_names_are_aliases_with_one_notice(tmp_path, run_recipe, capsys):
    rows = [{"id": "t", "caption": 'A sign that says "Fresh Bread".', "image_file": "t.jpg"}]

    def good(caption, req):
        return {"edit": 'Change "Fresh Bread" to "Hot Pies".', "text_before": "Fresh Bread",
                "text_after": "Hot Pies", "output": 'A sign that says "Hot Pies".'}

    res = run_recipe({"seed": 3, "backend": FAKE, "sink": {"name": "anyedit"},
                      "source": jsonl_source(tmp_path / "in.jsonl", rows),
                      "generator": {"name": "edit", "types": ["textual"], "attempts": 1}},
                     backend=FakeBackend(responder=Scripted(edit=good)))
    assert [r.data["edit_type"] for r in res.records] == ["textual_change"]
    line = json.loads((res.run_dir / "anyedit.jsonl").read_text().splitlines()[0])
    assert line["edit_type"] == "textual_change"
    assert (line["edited object"], line["new object"]) == ("Fresh Bread", "Hot Pies")
    err = capsys.readouterr().err
    notices = [x for x in err.splitlines() if "'textual' is now 'textual_change'" in x]
    assert len(notices) <= 1  # printed once per process; may have been printed already
    # Old names in records of earlier runs are written as AnyEdit's.
    for old, new in ALIASES.items():
        assert encode({"edit_type": old, "edit": "e", "input": "i", "output": "o",
                       "edited_object": "x", "text_before": "a", "text_after": "b",
                       "visual_input": "v.jpg", "image_file": "1.jpg"})["edit_type"] == new


def test_rule_aliases_resolve(tmp_path, run_recipe):
    res = run_recipe({"seed": 1, "backend": FAKE, "sink": {"name": "anyedit"},
                      "source": {"name": "records", "path": str(EXAMPLES / "edit_records.jsonl"),
                                 "edit_types": ["replace"]},
                      "generator": {"name": "edit_rules",
                                    "types": ["visual_segmentation", "material_transfer"]}},
                     backend=FakeBackend())
    assert {r.data["edit_type"] for r in res.records} == {"visual_segment",
                                                         "visual_material_transfer"}


def test_notice_is_one_line(capsys):
    from instructgen.plugins.anyedit import contract

    contract._noticed.discard("visual_segmentation")
    assert contract.canonical_type("visual_segmentation", "generator.types[0]") == \
        "visual_segment"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "generator.types[0]" in err


# -- point 3: colour and action wording AnyEdit's pre-filter parses -----------------------


def _after_to(edit: str) -> str:
    """AnyEdit's pre-filter: the target is what follows the last "to "."""
    return edit.split(" to ")[-1] if " to " in edit else ""


@pytest.mark.parametrize("name", ["color_alter", "action_change"])
def test_every_colour_and_action_example_says_its_target_after_to(name):
    etype = next(t for t in BUILTIN_EDIT_TYPES if t.name == name)
    for ex in etype.examples:
        assert _after_to(ex.edit).strip(" ."), ex.edit


def test_colour_edit_without_to_is_rejected_with_a_reason(tmp_path, run_recipe):
    rows = [{"id": "c", "caption": "A red car parked by a fence.", "image_file": "c.jpg"}]

    def no_to(caption, req):
        return {"edit": "Paint the car blue.", "edited_object": "car",
                "output": "A blue car parked by a fence."}

    res = run_recipe({"seed": 3, "backend": FAKE,
                      "source": jsonl_source(tmp_path / "in.jsonl", rows),
                      "generator": {"name": "edit", "types": ["color_alter"], "attempts": 1}},
                     backend=FakeBackend(responder=Scripted(edit=no_to)))
    assert [r.reason for r in res.rejections] == ["no_colour_after_to"]


# -- point 6: relation and counting from COCO instances, rotation and outpaint -------------


def _coco_files(tmp_path: Path) -> tuple[Path, Path]:
    captions = {"images": [{"id": 139, "file_name": "000000000139.jpg"},
                           {"id": 285, "file_name": "000000000285.jpg"}],
                "annotations": [{"image_id": 139, "id": 1,
                                 "caption": "Two dogs and a cup near a bench."},
                                {"image_id": 285, "id": 2, "caption": "A bear in the grass."}]}
    instances = {"images": [{"id": 139, "file_name": "000000000139.jpg", "width": 640,
                             "height": 480},
                            {"id": 285, "file_name": "000000000285.jpg", "width": 640,
                             "height": 427}],
                 "categories": [{"id": 18, "name": "dog"}, {"id": 47, "name": "cup"},
                                {"id": 15, "name": "bench"}, {"id": 23, "name": "bear"}],
                 "annotations": [
                     {"image_id": 139, "category_id": 18, "bbox": [10, 50, 80, 60], "id": 1},
                     {"image_id": 139, "category_id": 18, "bbox": [200, 60, 80, 60], "id": 2},
                     {"image_id": 139, "category_id": 18, "bbox": [420, 70, 80, 60], "id": 3},
                     {"image_id": 139, "category_id": 47, "bbox": [300, 300, 20, 25], "id": 4},
                     {"image_id": 139, "category_id": 15, "bbox": [40, 250, 200, 90], "id": 5},
                     {"image_id": 285, "category_id": 23, "bbox": [100, 80, 300, 300],
                      "id": 6}]}
    cap, inst = tmp_path / "captions_val2017.json", tmp_path / "instances_val2017.json"
    cap.write_text(json.dumps(captions))
    inst.write_text(json.dumps(instances))
    return cap, inst


def test_relation_and_counting_come_from_true_instances(tmp_path, run_recipe):
    cap, inst = _coco_files(tmp_path)
    res = run_recipe({"seed": 5, "backend": FAKE, "sink": {"name": "anyedit"},
                      "source": {"name": "coco", "path": str(cap), "instances": str(inst)},
                      "generator": {"name": "edit_rules",
                                    "types": ["counting", "relation", "rotation_change",
                                              "outpaint"]}},
                     backend=FakeBackend())
    by = {(r.item_id, r.data["edit_type"]): r.data for r in res.records}
    count = by[("139", "counting")]
    # The caption says two dogs; the annotations have three: the true count wins.
    assert count["count_before"] == 3 and count["derived_from"]["rule"] == "instance_counts"
    assert count["remove_number"] == 3 - count["count_after"]
    rel = by[("139", "relation")]
    assert rel["direction"] in RELATION_DIRECTIONS and rel["edited_object"] in {"cup", "bench"}
    assert ("139", "relation") in by and ("285", "counting") not in by  # one bear: no count
    assert {("285", "rotation_change"), ("285", "outpaint")} <= set(by)
    lines = [json.loads(x) for x in (res.run_dir / "anyedit.jsonl").read_text().splitlines()]
    assert len(lines) == len(res.records)
    for obj in lines:
        read_by_contract(obj)
        read_like_anyedit(obj)


def test_relation_directions_follow_the_boxes():
    objects = [{"name": "cat", "bbox": [0, 100, 50, 50]},
               {"name": "lamp", "bbox": [300, 100, 50, 50]}]
    item = SourceItem(id="x", data={"caption": "A cat and a lamp.", "objects": objects})
    seen = set()
    for seed in range(30):
        made = RULES["relation"](RuleContext(item, "A cat and a lamp.", random.Random(seed),
                                             RulesOptions()))
        seen.add((made["edited_object"], made["direction"], made.get("target_object")))
    # The cat is left of the lamp: moves put it right of the lamp, and the lamp left of it.
    assert seen <= {("cat", "right", "lamp"), ("lamp", "left", "cat"), ("cat", "swap", "lamp")}
    assert ("cat", "swap", "lamp") in seen


# -- point 7: multi-turn in the reference's shape --------------------------------------------


def test_chain_false_edits_the_original_caption_and_array_form(tmp_path, run_recipe):
    rows = [{"id": "a", "caption": "A dog sleeping on a couch near a lamp.",
             "image_file": "a.jpg"}]
    res = run_recipe({"seed": 3, "backend": FAKE,
                      "sink": {"name": "anyedit", "multi_turn": "array"},
                      "source": jsonl_source(tmp_path / "in.jsonl", rows),
                      "generator": {"name": "edit", "types": ["replace"], "turns": 3,
                                    "chain": False, "examples": 1}},
                     backend=FakeBackend(responder=Scripted()))
    (rec,) = res.records
    assert rec.data["chain"] is False
    assert all(t["input"] == rows[0]["caption"] for t in rec.data["turns"])
    (line,) = (res.run_dir / "anyedit.jsonl").read_text().splitlines()
    chain = json.loads(line)
    assert isinstance(chain, list) and len(chain) == 4
    assert chain[0] == {"input": rows[0]["caption"], "image_file": "a.jpg"}
    for turn in chain[1:]:
        assert read_like_anyedit(turn)[0] == rows[0]["caption"]


# -- point 8: the reference's defaults ----------------------------------------------------


def test_reference_defaults():
    assert EditOptions().examples == 5
    assert "textual_change" in DEFAULT_TYPES


def test_replace_never_edits_a_person():
    replace = next(t for t in BUILTIN_EDIT_TYPES if t.name == "replace")
    result = {"edit": "Replace the man with a statue.", "edited_object": "man",
              "new_object": "statue", "output": "A statue on a bench."}
    problems = [c.name for c in replace.checks if c("A man on a bench.", result)]
    assert problems == ["a_person_in_edited_object"]


def test_tone_transfer_allows_eras():
    tone = next(t for t in BUILTIN_EDIT_TYPES if t.name == "tone_transfer")
    result = {"edit": "Set the street in the industrial-age era.",
              "new_state": "industrial-age", "output": "An industrial-age street."}
    assert [c.name for c in tone.checks if c("A street.", result)] == []
