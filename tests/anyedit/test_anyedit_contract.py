"""The AnyEdit contract (issue 12): records AnyEdit's image stages read unchanged.

Two readers check the ``anyedit`` sink's output:

* :func:`read_by_contract`, written from the types' contracts (every type);
* :func:`read_like_anyedit`, written from what AnyEdit's own stages index
  (``return_parameters`` and the relation stage), so the contract itself is
  checked against the reference, key by key, with plain ``[]`` lookups that
  raise ``KeyError`` just as the reference does.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from builtin_types import DEFAULT_MIX, RULE_TYPES, anyedit_sink, apply_rule, contracts
from edit_fakes import FAKE, Scripted, jsonl_source

from instructgen.backends.fake import FakeBackend
from instructgen.plugins.anyedit.contract import (
    ALIASES,
    ANYEDIT_TYPES,
    COMMON_KEYS,
    RELATION_DIRECTIONS,
    anyedit_keys,
    contract_table,
)
from instructgen.plugins.edits import BUILTIN_EDIT_TYPES
from instructgen.plugins.edits.generator import EditOptions
from instructgen.plugins.edits.rules import RuleContext, RulesOptions
from instructgen.records import OutputRecord, SourceItem

DOCS = Path(__file__).resolve().parents[2] / "docs"
#: Every builtin type's contract, gathered from the families as the sink gathers them.
CONTRACTS = contracts()
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
    """The sink's line for ``data``. Stage rules are off unless asked: these tests are
    about the keys, and the stage readers below test the rules."""
    options.setdefault("stage_rules", "off")
    sink = anyedit_sink(**options)
    line = sink.encode(OutputRecord(id=rid, item_id="i1", generator="g", data=data))
    assert line is not None, "the sink left the record out"
    return json.loads(line)


# -- one record of every type --------------------------------------------------------------

REMOVE = {"edit_type": "remove", "input": "A dog sitting next to a fire hydrant.",
          "output": "A dog sitting.", "edited_object": "fire hydrant", "record_id": "r1",
          "record_generator": "edit", "image_file": "000000000139.jpg",
          "edited_file": "anyedit/remove/edited_img/000000000139_0.jpg"}
REPLACE = {"edit_type": "replace", "input": "A cat on a wooden chair.",
           "output": "A cat on a sofa.", "edited_object": "chair", "new_object": "sofa",
           "record_id": "r2", "record_generator": "edit", "image_file": "000000000285.jpg",
           "edited_file": "anyedit/replace/edited_img/000000000285.jpg"}
OBJECTS = [{"name": "dog", "bbox": [10, 40, 60, 50]}, {"name": "dog", "bbox": [200, 40, 60, 50]},
           {"name": "dog", "bbox": [400, 40, 60, 50]}, {"name": "cup", "bbox": [100, 300, 20, 20]},
           {"name": "bench", "bbox": [300, 250, 200, 100]}]


def _rule_record(name: str, seed: int = 0) -> dict:
    caption = "Three dogs, a cup and a bench in a park."
    for data in (REMOVE, REPLACE, {"caption": caption, "objects": OBJECTS,
                                   "image_size": [640, 480], "image_file": "1.jpg"}):
        item = SourceItem(id="it1", data=data)
        cap = data.get("caption")
        made = apply_rule(name, RuleContext(item, cap, random.Random(seed), RulesOptions()))
        if made is not None:
            return {"edit_type": name, **made, "image_file": data["image_file"]}
    raise AssertionError(f"no fixture makes a {name} record")


def every_type_record() -> dict[str, dict]:
    records = {}
    for etype in BUILTIN_EDIT_TYPES:
        ex = etype.examples[0]
        records[etype.name] = {"edit_type": etype.name, "input": ex.input, **ex.result(),
                               "image_file": "5.jpg", "judge": "yes"}
    for name in RULE_TYPES:
        records[name] = _rule_record(name)
    records["implicit_change"] = {
        "edit_type": "implicit_change", "original_caption": "An egg on a kitchen table.",
        "instruction": "What happens if the egg falls?",
        "target_caption": "A broken egg on the kitchen floor.", "keywords": ["egg", "floor"]}
    return records


def test_the_contract_covers_every_type_we_write():
    assert set(every_type_record()) == set(CONTRACTS)
    # Every type the families hand a contract for is one AnyEdit's stages dispatch on.
    assert set(CONTRACTS) == set(ANYEDIT_TYPES)


@pytest.mark.parametrize("etype", sorted(CONTRACTS))
def test_every_type_goes_through_the_sink_and_both_readers(etype):
    obj = encode(every_type_record()[etype])
    assert obj["edit_type"] == etype
    read = read_by_contract(obj)
    assert set(anyedit_keys(CONTRACTS[etype])) <= set(obj)
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
    assert contract_table(CONTRACTS) in page


# -- point 2: AnyEdit's names, the old ones as aliases -------------------------------------


def test_old_type_names_are_aliases_with_one_notice(tmp_path, run_recipe, capsys):
    rows = [{"id": "t", "caption": 'A sign that says "Fresh Bread".', "image_file": "t.jpg"}]

    def good(caption, req):
        return {"edit": 'Change "Fresh Bread" to "Hot Pies".', "text_before": "Fresh Bread",
                "text_after": "Hot Pies", "output": 'A sign that says "Hot Pies".'}

    res = run_recipe({"seed": 3, "backend": FAKE, "sink": {"name": "anyedit"},
                      "source": jsonl_source(tmp_path / "in.jsonl", rows),
                      "generator": {"name": "edit", "types": ["textual"], "attempts": 1,
                                    "compose": "model"}},
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
                       "visual_input": "v.jpg", "image_file": "1.jpg",
                       "edited_file": "replace/edited_img/1.jpg"})["edit_type"] == new


def test_rule_aliases_resolve(tmp_path, run_recipe):
    res = run_recipe({"seed": 1, "backend": FAKE, "sink": {"name": "anyedit"},
                      "source": {"name": "anyedit_records",
                                 "path": str(EXAMPLES / "remove_replace_stage.json"),
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
                      "generator": {"name": "edit", "types": ["color_alter"], "attempts": 1,
                                    "compose": "model"}},
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
    assert {("285", "rotation_change"), ("285", "outpainting")} <= set(by)
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
        made = apply_rule("relation", RuleContext(item, "A cat and a lamp.", random.Random(seed),
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
                                    "chain": False, "examples": 1, "compose": "model"}},
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
    assert "textual_change" in DEFAULT_MIX


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


# -- readers of AnyEdit's filters and stages (issue 28 point 3) ---------------------------
# Written from filter_tool/pre_filter.py and adaptive_editing_pipelines/*.py: each takes a
# record as the sink wrote it and returns it as the filter or stage passes it on
# (rewritten, for the rewriting filters), or None where that code skips it. They split,
# test substrings and compare case as that code does, and share nothing with
# instructgen.plugins.anyedit.stage_rules, which they check.

_PERSONS = ("people", "man", "woman", "boy", "girl", "person")


def _base_verb(word: str) -> str:
    """A rough verb lemma standing in for WordNet's: running -> run, jumps -> jump."""
    w = word.lower()
    if w.endswith("ing") and len(w) > 5:
        w = w[:-3]
        return w[:-1] if len(w) > 2 and w[-1] == w[-2] else w
    return w[:-1] if w.endswith("s") and not w.endswith("ss") and len(w) > 3 else w


def read_colour_prefilter(obj: dict, new: str = "teal") -> dict | None:
    pieces = obj["edit"].split("to ")
    if len(pieces) < 2:
        return None
    return {**obj, "edit": pieces[0] + f"to {new}", "output": obj["output"].replace(pieces[1], new)}


def read_action_prefilter(obj: dict) -> dict | None:
    action = obj["edit"].split("to ")[-1].split(" ")[0]
    if action in ("be", "being", "have", "having"):
        return None
    lemma, kept_in, kept_out = _base_verb(action), [], []
    for part_in, part_out in zip(obj["input"].split(", "), obj["output"].split(", ")):  # noqa: B905
        kept_in.append(part_in)
        kept_out.append(part_out)
        if any(_base_verb(w) == lemma for w in part_out.strip(".").split(" ")):
            if any(_base_verb(w) == lemma for w in part_in.strip(".").split(" ")):
                return None  # the input already shows the action
            break
    return {**obj, "input": ", ".join(kept_in), "output": ", ".join(kept_out)}


def read_appearance_prefilter(obj: dict) -> dict | None:
    edit = obj["edit"]
    if any(w in edit.split("to ")[-1] or w in edit.split("into ")[-1] for w in _PERSONS):
        return None
    return None if any(w in edit for w in ("size", "bigger", "smaller", "longer", "shorter")) \
        else obj


def read_replace_prefilter(obj: dict) -> dict | None:
    last = obj["new object"].split(" ")[-1]
    for form in {last, last[:-1] if last.endswith("s") else last}:
        if form in (*_PERSONS, "adult", "child") \
                or form.endswith(("er", "or", "ist", "ian", "ee")):
            return None
    return obj


def read_pre_filter(obj: dict) -> dict | None:
    etype = obj["edit_type"]
    if etype == "background_change" and "new background" not in obj:
        return None
    if etype == "appearance_alter":
        last = obj["edited object"].split(" ")[-1]
        if last not in obj["input"].replace(",", "").strip(".").split(" ") \
                or "color" in obj["edit"].strip().split(" "):
            return None
    return obj


def read_background_prefilter(obj: dict) -> dict | None:
    last = obj["new background"].split(" ")[-1]
    return None if last in obj["input"].strip(".").split(" ") else obj


def read_local_stage(obj: dict) -> dict | None:
    etype = obj["edit_type"]
    if "input" not in obj or "output" not in obj:
        return None
    if etype in ("add", "remove", "counting", "replace"):
        if "edited object" not in obj or obj["edited object"] not in obj["edit"] \
                or "background" in obj["edit"]:
            return None
        if etype == "replace" and ("new object" not in obj or obj["edited object"] in _PERSONS
                                   or obj["new object"] in _PERSONS):
            return None
        if etype == "counting" and int(obj["remove_number"]) < 1:
            return None
    return obj


def read_global_stage(obj: dict) -> dict | None:
    last = obj["edited object"].split(" ")[-1]
    return obj if last in obj["input"].strip(".").replace(",", "").split(" ") else None


def read_attribute_stage(obj: dict) -> dict | None:
    return obj if obj["edited object"] in obj["input"] else None


def read_visual_condition_stage(obj: dict) -> dict | None:
    obj["image_file"].split("/")[-1].split(".")[0]
    folders = obj["edited_file"].split("/")
    if "remove" not in folders and "replace" not in folders:
        return None  # the stage would name no output file
    return {k: obj[k] for k in ("edit", "edit object", "input", "output", "edit_type",
                                "image_file", "edited_file")}


def read_textual_stage(obj: dict) -> dict | None:
    root = "anyedit_datasets/textual_change"
    return {**obj, "image_file": f"{root}/{obj['image_file']}",
            "edited_file": f"{root}/{obj['edited_file']}"}


def read_reference_stage(obj: dict) -> dict | None:
    return obj if "[V*]" in obj["edit"] and "[V*]" in obj["output"] else None


def read_rotation(obj: dict) -> dict | None:
    words = obj["edit"].lower().split()
    return obj if "clockwise" in words or "counterclockwise" in words else None


#: Each reader, and the types whose records pass through it on AnyEdit's way.
STAGE_READERS = {
    "color_prefilter": (("color_alter",), read_colour_prefilter),
    "action_prefilter": (("action_change",), read_action_prefilter),
    "appearance_prefilter": (("appearance_alter",), read_appearance_prefilter),
    "replace_prefilter": (("replace",), read_replace_prefilter),
    "pre_filter": (("background_change", "appearance_alter"), read_pre_filter),
    "background_prefilter": (("background_change",), read_background_prefilter),
    "local_pipeline_tool": (("add", "remove", "replace", "counting", "background_change"),
                            read_local_stage),
    "global_pipeline_tool": (("color_alter",), read_global_stage),
    "attribute_pipeline_tool": (("color_alter", "appearance_alter"), read_attribute_stage),
    "visual_condition_tool": (("visual_sketch", "visual_scribble", "visual_segment",
                               "visual_depth", "visual_bbox"), read_visual_condition_stage),
    "textual_change_tool": (("textual_change",), read_textual_stage),
    "visual_reference_tool": (("visual_reference",), read_reference_stage),
    "rotation_change_tool": (("rotation_change",), read_rotation),
}


def through_stages(obj: dict) -> tuple[dict, list[str]]:
    """``obj`` after every filter and stage of its type; the names of those that drop it."""
    dropped = []
    for name, (types, reader) in STAGE_READERS.items():
        if obj["edit_type"] in types:
            after = reader(dict(obj))
            if after is None:
                dropped.append(name)
            elif name.endswith("prefilter"):
                obj = after  # a pre-filter's rewrite is what the stages then read
    return obj, dropped


def assert_still_agree(before: dict, after: dict) -> None:
    """After a rewriting filter, the edit and the output still say the same change."""
    if before["edit_type"] == "color_alter":
        assert after["edit"].endswith("to teal"), after
        assert re.search(r"\bteal\b", after["output"]), after
        old = before["edit"].split("to ")[1]
        assert not re.search(rf"\b{re.escape(old)}\b", after["output"]), after
    if before["edit_type"] == "action_change":
        read = before["edit"].split("to ")[-1].split(" ")[0]
        assert read.isalpha(), f"the filter reads the action as {read!r}, not a word"
        action = _base_verb(read)
        if any(_base_verb(w) == action for w in before["output"].strip(".").split(" ")):
            assert any(_base_verb(w) == action for w in after["output"].strip(".").split(" "))


def _accepted_by_sink(data: dict) -> dict | None:
    sink = anyedit_sink()
    line = sink.encode(OutputRecord(id="r1", item_id="i1", generator="g", data=data))
    return None if line is None else json.loads(line)


@pytest.mark.parametrize("etype", sorted(set(CONTRACTS) - {"implicit_change"}))
def test_every_type_survives_every_stage_reader(etype):
    obj = _accepted_by_sink(every_type_record()[etype])
    assert obj is not None, f"the sink's stage rules drop the {etype} fixture"
    after, dropped = through_stages(obj)
    assert dropped == []
    assert_still_agree(obj, after)


@pytest.mark.parametrize("etype", [t.name for t in BUILTIN_EDIT_TYPES])
def test_every_few_shot_example_survives_every_stage_reader(etype):
    kind = next(t for t in BUILTIN_EDIT_TYPES if t.name == etype)
    for ex in kind.examples:
        data = {"edit_type": etype, "input": ex.input, **ex.result(), "image_file": "5.jpg"}
        obj = encode(data)
        after, dropped = through_stages(obj)
        assert dropped == [], (ex.edit, dropped)
        assert_still_agree(obj, after)


#: The issue's failures, as records; each must be dropped or broken by a reader, and
#: left out by the sink's stage rules.
DOOMED = [
    {"edit_type": "color_alter", "edit": "Change the car to blue.", "edited_object": "car",
     "input": "A red car on a road.", "output": "A blue car on a road."},
    {"edit_type": "color_alter", "edit": "Turn the tomato to green", "edited_object": "tomato",
     "input": "A red tomato on a plate.", "output": "A green tomato on a plate."},
    {"edit_type": "action_change", "edit": "Change the dog's action to running.",
     "edited_object": "dog", "input": "A dog sitting.", "output": "A dog running."},
    {"edit_type": "add", "edit": "Add a hat on the man", "edited_object": "straw hat",
     "input": "A man.", "output": "A man with a straw hat."},
    {"edit_type": "remove", "edit": "Remove the tree in the background",
     "edited_object": "tree", "input": "A tree behind a house.", "output": "A house."},
    {"edit_type": "counting", "edit": "Remove one of the men", "edited_object": "man",
     "remove_number": 1, "input": "Two men.", "output": "One man."},
    {"edit_type": "appearance_alter", "edit": "Make the car bigger", "edited_object": "car",
     "input": "A car.", "output": "A big car."},
    {"edit_type": "replace", "edit": "Replace the cat with a flower", "edited_object": "cat",
     "new_object": "flower", "input": "A cat.", "output": "A flower."},
    {"edit_type": "background_change", "edit": "Set it on a beach", "new_background": "beach",
     "input": "A dog on a beach.", "output": "A dog on a beach."},
]


def _broken(obj: dict) -> bool:
    after, dropped = through_stages(obj)
    try:
        assert_still_agree(obj, after)
    except AssertionError:
        return True
    return bool(dropped)


@pytest.mark.parametrize("data", DOOMED, ids=lambda d: d["edit"])
def test_the_readers_and_the_sink_catch_each_failure_the_issue_lists(data):
    data = {**data, "image_file": "1.jpg"}
    assert _broken(encode(data))
    assert _accepted_by_sink(data) is None


def test_period_free_forms_of_the_colour_and_action_edits_pass():
    good = [{"edit_type": "color_alter", "edit": "Change the car to blue", "edited_object": "car",
             "input": "A red car on a road.", "output": "A blue car on a road."},
            {"edit_type": "action_change", "edit": "Change the dog's action to running",
             "edited_object": "dog", "input": "A dog sitting.", "output": "A dog running."}]
    for data in good:
        obj = _accepted_by_sink({**data, "image_file": "1.jpg"})
        assert obj is not None and not _broken(obj)


def test_a_type_name_with_two_contracts_is_a_plugin_error():
    """An LLM type and a rule type of one name would be written two ways: refused."""
    from instructgen.errors import PluginError
    from instructgen.plugins.anyedit.contract import contracts_of

    add = CONTRACTS["add"]
    with pytest.raises(PluginError, match="'add' is given twice"):
        contracts_of([[add], [CONTRACTS["counting"], add]])
    assert contracts_of([[add], None, [CONTRACTS["counting"]]]) == {
        "add": add, "counting": CONTRACTS["counting"]}
