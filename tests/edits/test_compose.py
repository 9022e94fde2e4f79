"""The ``rules`` path (issue 27 point 3): output edits, phrasings, the option, fake runs."""

from __future__ import annotations

import json
import random
import tomllib
from pathlib import Path

import pytest

from instructgen.cli import main
from instructgen.plugins.edits import BUILTIN_EDIT_TYPES
from instructgen.plugins.edits.compose import PLANNERS, path_for, result_of
from instructgen.plugins.edits.compose import rewrite as rw
from instructgen.plugins.edits.compose.caption import Words, indefinite
from instructgen.plugins.edits.compose.kinds import object_slots
from instructgen.plugins.edits.compose.objects import Found, known_objects
from instructgen.plugins.edits.compose.phrasings import BANKS, render
from instructgen.plugins.edits.prefilter import HeuristicAnalyzer
from instructgen.report.diversity import distinct_n

REPO = Path(__file__).resolve().parents[2]


def stage_failure(etype: str, caption: str, result) -> object:
    """The first of AnyEdit's answer-level stage rules ``result`` fails (``None``: none)."""
    rules = pytest.importorskip("instructgen.plugins.anyedit.stage_rules",
                                reason="AnyEdit's stage rules are not in this checkout")
    view = rules.anyedit_view(TYPES[etype].contract(), caption, result)
    return rules.first_failure(view, rules.rules_for(etype, "answer"))
TYPES = {t.name: t for t in BUILTIN_EDIT_TYPES}


def obj(caption: str, phrase: str):
    found = [o for o in known_objects(caption, None) if o.phrase == phrase]
    assert found, f"{phrase!r} not found in {caption!r}: {known_objects(caption, None)}"
    return found[0]


# -- articles and words ---------------------------------------------------------------------

@pytest.mark.parametrize("word, article", [("apple", "an"), ("car", "a"), ("owl", "an"),
                                           ("unicorn", "a"), ("hour", "an"), ("umbrella", "an"),
                                           ("one-way", "a")])
def test_indefinite_article_follows_the_sound(word, article):
    assert indefinite(word) == article


def test_splice_keeps_the_final_period_and_fixes_the_article():
    w = Words.of("A dog next to a car.")
    assert w.splice(5, 6, "owl").text() == "A dog next to an owl."
    assert w.splice(1, 2, "elephant").text() == "An elephant next to a car."


def test_objects_are_known_nouns_named_once_and_written_plainly():
    found = known_objects("A dog and a cat near a dog bowl. The car's door", None)
    names = [o.phrase for o in found]
    assert "dog" not in names  # named twice: "the dog" would be ambiguous
    assert "cat" in names and "car" not in names  # "car's": AnyEdit reads the word as written


# -- output edits ---------------------------------------------------------------------------

def test_substitute_makes_the_new_object_plural_when_the_old_one_was():
    cap = "A cyclist rides past parked cars on a street."
    assert rw.substitute(cap, obj(cap, "cars"), "bus") == \
        "A cyclist rides past parked buses on a street."


def test_substitute_fixes_a_before_a_vowel():
    cap = "A dog resting on a sofa."
    assert rw.substitute(cap, obj(cap, "dog"), "owl") == "An owl resting on a sofa."


@pytest.mark.parametrize("caption, phrase, expected", [
    ("A brown dog sitting on a couch next to a pillow.", "pillow",
     "A brown dog sitting on a couch."),
    ("A plate with a sandwich and three pickles on a table.", "sandwich",
     "A plate with three pickles on a table."),
    ("A plate with a sandwich and three pickles on a table.", "pickles",
     "A plate with a sandwich on a table."),
    ("A cat sleeping on a wooden chair by a lamp.", "lamp",
     "A cat sleeping on a wooden chair."),
    ("Two giraffes standing near a tree in a grassy field.", "tree",
     "Two giraffes standing in a grassy field."),
])
def test_delete_takes_the_phrase_with_its_article_and_preposition(caption, phrase, expected):
    assert rw.delete(caption, obj(caption, phrase)) == expected


@pytest.mark.parametrize("caption, phrase", [
    ("A dog resting on a sofa.", "dog"),  # the subject
    ("A man riding a bicycle down a street.", "bicycle"),  # the object of a verb
    ("A couch with a dog sleeping on it.", "dog"),  # the rest of the caption leans on it
    ("A cat sleeping on a wooden chair by a window.", "chair"),  # it holds the cat up
])
def test_delete_refuses_what_would_break_the_sentence(caption, phrase):
    assert rw.delete(caption, obj(caption, phrase)) is None


def test_colour_goes_before_the_noun_replacing_the_old_colour_before_a_material():
    cap = "A red car next to a wooden chair."
    colours, materials = frozenset({"red", "blue"}), frozenset({"wooden"})
    assert rw.put_before_noun(cap, obj(cap, "car"), "blue", colours, materials) == \
        "A blue car next to a wooden chair."
    assert rw.put_before_noun(cap, obj(cap, "chair"), "blue", colours, materials) == \
        "A red car next to a blue wooden chair."
    assert rw.put_before_noun(cap, obj(cap, "chair"), "orange", colours, materials) == \
        "A red car next to an orange wooden chair."


def test_action_swaps_the_verb_phrase_and_keeps_the_place():
    cap = "A man riding a bicycle down a busy city street."
    man = obj(cap, "man")
    assert rw.change_action(cap, man, "walking") == "A man walking down a busy city street."
    assert rw.moving(cap, rw.verb_after(cap, man))


def test_action_after_a_present_tense_verb_stays_in_the_present_tense():
    cap = "A cyclist rides past parked cars on a street."
    assert rw.change_action(cap, obj(cap, "cyclist"), "running") == \
        "A cyclist runs past parked cars on a street."
    assert [rw.present_tense(a) for a in ("dancing", "lying down", "clapping", "crouching")] \
        == ["dances", "lies down", "claps", "crouches"]


def test_background_swaps_the_place_phrase_or_appends_one():
    assert rw.set_background("Two giraffes standing near a tree in a grassy field.",
                             "on a sandy beach") == \
        "Two giraffes standing near a tree on a sandy beach."
    assert rw.set_background("A brown dog sitting on a couch next to a pillow.",
                             "on a sandy beach") == "A brown dog sitting on a sandy beach."
    assert rw.set_background("Two dogs playing.", "in a desert") == \
        "Two dogs playing in a desert."


def test_tone_replaces_a_closing_tone_phrase_only():
    assert rw.set_tone("Four boats floating in a calm harbor at sunset.", "at night") == \
        "Four boats floating in a calm harbor at night."
    assert rw.set_tone("A hydrant covered in snow next to a road.", "in summer") == \
        "A hydrant covered in snow next to a road in summer."


def test_text_change_keeps_the_quote_marks():
    assert rw.change_text('a sign, with the text "OPEN"', "OPEN", "SHUT") == \
        'a sign, with the text "SHUT"'


# -- phrasings ------------------------------------------------------------------------------

def test_every_type_has_a_bank_of_varied_forms():
    assert set(BANKS) == set(PLANNERS) == set(TYPES)
    for name, bank in BANKS.items():
        assert len(bank) >= 10, name
        assert len({f.split()[0] for f in bank}) >= 3, f"{name}: too few opening verbs"


def test_rendered_instructions_are_diverse():
    rng = random.Random(0)
    edits = []
    for noun in ("dog", "car", "chair", "vase", "kite", "bench"):
        for colour in ("blue", "red", "teal", "coral", "olive"):
            slots = {**object_slots(Found(noun, "thing", 0, 1)), "v": colour}
            edits.append(render("color_alter", slots, rng))
    assert len({e.split(" the ")[0] for e in edits}) >= 6  # many openings, not one template
    one_form = [f"Change the color of the {e.split(' the ')[1].split()[0]} to "
                f"{e.split()[-1]}" for e in edits]
    assert distinct_n(edits, 2) >= 1.5 * distinct_n(one_form, 2)


# -- whole edits from planners: checks and AnyEdit's stage rules ------------------------------

CAPTIONS = [
    "A brown dog sitting on a couch next to a pillow.",
    "Two giraffes standing near a tree in a grassy field.",
    "A man riding a bicycle down a busy city street.",
    "A plate with a sandwich and three pickles on a table.",
    "A cat sleeping on a wooden chair by a window.",
    "Four boats floating in a calm harbor at sunset.",
    'a shop front with a large sign above the door, with the text "OPEN"',
    'a book cover with a painted mountain, with the text "The Quiet Peak"',
]


def _choices(schema, rng):
    """Every answer the choice schema allows, a few values per field."""
    branches = schema.get("anyOf", [schema])
    for branch in branches:
        props = branch["properties"]
        fixed = {k: v["const"] for k, v in props.items() if "const" in v}
        free = {k: v for k, v in props.items() if "const" not in v}
        for _ in range(3):
            answer = dict(fixed)
            for k, v in free.items():
                answer[k] = rng.choice(v["enum"]) if "enum" in v else _new_text(fixed[
                    "text_before"])
            yield answer


def _new_text(old: str) -> str:
    """A replacement text in the old one's case style, word for word."""
    new = ["blue", "green", "quiet", "river"]
    return " ".join(n.upper() if w.isupper() else n.title() if w[:1].isupper() else n
                    for w, n in zip(old.split(), new, strict=False))


@pytest.mark.parametrize("etype", sorted(PLANNERS))
def test_every_written_edit_passes_the_type_checks_and_the_stage_rules(etype):
    from builtin_types import edit_generator

    gen = edit_generator(types=[etype])
    checks = gen._checks(TYPES[etype])
    rng = random.Random(3)
    written = 0
    for caption in CAPTIONS:
        plan = PLANNERS[etype](caption, known_objects(caption, HeuristicAnalyzer()), rng)
        if isinstance(plan, str):
            continue
        for choice in _choices(plan.schema, rng):
            made = plan.write(choice)
            assert made is not None, (caption, choice)
            result = result_of(made)
            problems = [(c.name, c(caption, result)) for c in checks
                        if c(caption, result) is not None]
            assert not problems, (caption, result, problems)
            assert stage_failure(etype, caption, result) is None, (caption, result)
            assert not made.edit.endswith(".")
            written += 1
    assert written >= 3, f"{etype}: only {written} edits written from the example captions"


# -- the option -----------------------------------------------------------------------------

def test_auto_gives_the_embedded_model_and_unknown_models_the_rules_path():
    assert path_for("smollm2-135m-instruct")[0] == "rules"
    assert path_for(None)[0] == "rules"
    assert path_for("some-new-model")[0] == "rules"


def test_a_bad_compose_value_is_a_one_line_recipe_error(tmp_path, capsys):
    text = (REPO / "examples/edits/single.toml").read_text().replace(
        'types = ["replace"]', 'types = ["replace"]\ncompose = "rule"')
    assert 'compose = "rule"' in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace('path = "examples/', f'path = "{REPO}/examples/'))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "generator.compose" in err[0] and "rule" in err[0]


@pytest.mark.parametrize("name", ["single", "mix", "multi_turn", "textual"])
def test_example_recipes_on_the_fake_write_rules_records_that_pass_the_stage_rules(
        name, tmp_path, run_recipe, monkeypatch):
    from instructgen.backends.fake import FakeBackend, FakeOptions

    monkeypatch.chdir(REPO)
    recipe = tomllib.loads((REPO / f"examples/edits/{name}.toml").read_text())
    recipe["backend"] = {"name": "fake"}
    recipe["output_dir"] = str(tmp_path / "out")
    recipe["generator"]["compose"] = "rules"
    res = run_recipe(recipe, backend=FakeBackend(FakeOptions()))
    turns = [t for r in res.records for t in r.data.get("turns", [r.data])]
    assert turns, res.rejections
    for turn in turns:
        assert turn["compose"] == "rules" and turn["few_shot"] == []
        assert stage_failure(turn["edit_type"], turn["input"], turn) is None, turn
    assert json.dumps(turns)  # records are plain JSON


# -- point 4: a schema the decoder cannot compile falls back, per item ------------------------

LONG = ("Two young boys wearing baseball caps and jerseys are playing catch in a grassy "
        "backyard near a white picket fence while a small brown dog watches them from the "
        "porch steps.")


def test_a_schema_that_does_not_compile_falls_back_for_that_item_and_is_counted(
        tmp_path, run_recipe):
    pytest.importorskip("llguidance", reason="the compile check needs llguidance")
    from instructgen.backends.fake import FakeBackend, FakeOptions
    from instructgen.plugins.edits.constraints import item_schema
    from instructgen.plugins.edits.coupling import coupled_schema
    from instructgen.plugins.edits.fallback import REASON, schema_problem

    replace = TYPES["replace"]
    narrowed = item_schema(replace, LONG, HeuristicAnalyzer())
    assert "regex parse error" in schema_problem(
        coupled_schema(replace, LONG, narrowed, replace.verbs))  # the failure, reproduced
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "long-1", "caption": LONG}) + "\n"
                     + json.dumps({"id": "short-1", "caption": "A dog on a sofa."}) + "\n")
    res = run_recipe({"source": {"name": "captions", "path": str(items), "id_column": "id"},
                      "generator": {"name": "edit", "types": ["replace"], "compose": "model",
                                    "attempts": 1},
                      "backend": {"name": "fake"}}, backend=FakeBackend(FakeOptions()))
    assert res.summary.status == "finished"
    fallbacks = [r for r in res.rejections if r.reason == REASON]
    assert [r.item_id for r in fallbacks] == ["long-1"]
    assert fallbacks[0].stage == "schema" and "item schema" in fallbacks[0].detail
    assert res.summary.rejection_reasons.get(REASON) == 1


def test_first_usable_skips_a_schema_with_an_unsupported_keyword():
    from instructgen.plugins.edits.fallback import first_usable

    class Ctx:
        log = None
        item = type("Item", (), {"id": "x"})()

        def __init__(self):
            self.lines = []

        def reject(self, reason, detail, *, stage):
            self.lines.append((reason, stage, detail))

    bad = {"type": "object", "properties": {"a": {"type": "string", "format": "date"}}}
    good = {"type": "object", "properties": {"a": {"type": "string"}}}
    ctx = Ctx()
    assert first_usable([("coupled", bad), ("plain", good)], ctx, "add edit") == good
    assert len(ctx.lines) == 1 and ctx.lines[0][:2] == ("schema_fallback", "schema")


# -- paraphrase -----------------------------------------------------------------------------

def _first_choice(schema):
    branch = schema.get("anyOf", [schema])[0]
    return {k: v.get("const", (v.get("enum") or [None])[0])
            for k, v in branch["properties"].items()}


@pytest.mark.parametrize("rewording, kept", [
    ("Change the color of the car to blue", True),
    ("The user is asked to change the car to blue", False),  # not an imperative
    ("Change the color of the car to red", False),  # lost the value
    ("Change the car to blue and also make the sky purple and the road wet", False),  # longer
    ("recolor the car to blue", False),  # not a sentence
])
def test_a_paraphrase_is_kept_only_when_it_keeps_object_value_and_form(
        rewording, kept, tmp_path, run_recipe):
    from instructgen.backends.fake import FakeBackend

    def answer(req):
        if "reword" in req.messages[0].content:
            return json.dumps({"edit": rewording})
        choice = _first_choice(req.schema)
        choice["color"] = "blue"
        return json.dumps(choice)

    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "a", "caption": "A red car next to a bench."}) + "\n")
    res = run_recipe({"source": {"name": "captions", "path": str(items), "id_column": "id"},
                      "generator": {"name": "edit", "types": ["color_alter"],
                                    "compose": "rules", "paraphrase": True},
                      "backend": {"name": "fake"}}, backend=FakeBackend(responder=answer))
    (rec,) = res.records
    assert (rec.data["edit"] == rewording) is kept
    assert rec.data["edit"].endswith("to blue") and rec.data["output"] == \
        "A blue car next to a bench."
