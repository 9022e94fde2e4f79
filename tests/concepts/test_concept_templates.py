"""The template path: closed-list fields, the caption templates, and the compose option."""

from __future__ import annotations

import json
import random

import pytest

from instructgen.plugins.concepts.captions import OPINION_WORDS, C2capOptions
from instructgen.plugins.concepts.fields import look_schema, pair_schema, read_look
from instructgen.plugins.concepts.fluency import caption_problem
from instructgen.plugins.concepts.lexicon import (
    COLOURS,
    FOOD_STATES,
    SIZES,
    VIEWS,
    kind_of,
    poses_for,
)
from instructgen.plugins.concepts.paths import resolve
from instructgen.plugins.concepts.templates import (
    Look,
    NoCaption,
    background_caption,
    concept_caption,
    noun_phrase,
    pair_caption,
    setting_phrase,
)
from instructgen.text import contains_any_word, mentions, word_count

CONCEPTS = ["teapot", "umbrella", "owl", "hot air balloon", "scissors", "horse", "apple",
            "penguin", "goldfish", "teddy bear", "ice cream cone"]


def test_articles_follow_the_sound_and_plurals_take_none():
    assert noun_phrase("umbrella", []) == "an umbrella"
    assert noun_phrase("teapot", ["orange"]) == "an orange teapot"
    assert noun_phrase("owl", ["small", "white"]) == "a small white owl"
    assert noun_phrase("scissors", ["red"]) == "red scissors"
    assert noun_phrase("unicorn", []) == "a unicorn"


def test_setting_phrases_pick_a_preposition_and_an_article():
    assert setting_phrase("city street") == "on a city street"
    assert setting_phrase("bus stop") == "at a bus stop"
    assert setting_phrase("garage") == "in a garage"
    assert setting_phrase("orchard") == "in an orchard"
    assert setting_phrase("snow") == "on snow"
    assert setting_phrase("rocky cliffs") == "on rocky cliffs"
    assert setting_phrase("lake at sunset") == "on a lake at sunset"
    assert setting_phrase("top of a hill") == "on the top of a hill"
    assert setting_phrase("roadside") == "by a roadside"
    assert setting_phrase("campfire") == "by a campfire"
    assert setting_phrase("countryside") == "in the countryside"
    assert setting_phrase("On the shipbuilding area") == "on the shipbuilding area"


def test_a_plural_concept_gets_plural_verbs():
    rng = random.Random(0)
    captions = {background_caption("scissors", Look(colour="red"), "kitchen drawer", 12, rng)
                for _ in range(40)}
    assert "There are red scissors in a kitchen drawer." in captions
    assert not any("There is" in c or "a red scissors" in c.lower() for c in captions)
    single = {background_caption("kite", Look(colour="red"), "beach", 12, rng)
              for _ in range(40)}
    assert "There is a red kite on a beach." in single


def _looks(concept: str, rng: random.Random) -> Look:
    """A look as the schema of ``concept``'s kind allows it."""
    kind = kind_of(concept)
    if kind == "thing":
        return Look(colour=rng.choice(COLOURS), size=rng.choice([None, *SIZES[1:]]))
    if kind == "food":
        return Look(size=rng.choice([None, *FOOD_STATES[1:]]))
    return Look(pose=rng.choice(poses_for(concept))) if poses_for(concept) else Look()


@pytest.mark.parametrize("max_words", [6, 8, 12])
def test_every_template_caption_is_short_factual_and_names_its_concept(max_words):
    rng = random.Random(max_words)
    for concept in CONCEPTS:
        for _ in range(30):
            look = _looks(concept, rng)
            for caption in (concept_caption(concept, look, max_words, rng),
                            background_caption(concept, look, "train platform", max_words + 4,
                                               rng)):
                assert word_count(caption) <= max_words + 4, caption
                assert caption[0].isupper() and caption.endswith(".")
                assert not any(ch.isdigit() for ch in caption), caption
                assert not contains_any_word(caption, OPINION_WORDS), caption
                assert mentions(caption, concept), caption
                assert caption_problem(caption, [concept], ["train platform"]) is None, caption
            assert word_count(concept_caption(concept, look, max_words, rng)) <= max_words


def test_the_concept_is_the_head_noun():
    rng = random.Random(3)
    for _ in range(30):
        caption = concept_caption("teapot", Look(colour="blue", size="old"), 12, rng)
        # Every adjective stands before the concept, in English order.
        assert "old blue teapot" in caption, caption


def test_a_concept_that_names_a_colour_gets_no_other_colour():
    rng = random.Random(5)
    for colour in ("red", "blue"):
        for _ in range(10):
            caption = concept_caption("red bus", Look(colour=colour, size="old"), 12, rng)
            assert "old red bus" in caption and caption.lower().count("red") == 1, caption
            assert caption_problem(caption, ["red bus"]) is None


def test_adjectives_are_dropped_before_the_caption_gives_up():
    rng = random.Random(1)
    caption = concept_caption("hot air balloon", Look(colour="red", size="large"), 5, rng)
    assert word_count(caption) <= 5 and "balloon" in caption
    with pytest.raises(NoCaption):
        concept_caption("very long concept name here", Look(), 3, rng)


def test_pairs_name_both_concepts_with_the_relation():
    rng = random.Random(2)
    seen = set()
    for _ in range(40):
        caption = pair_caption(("horse", "umbrella"), (Look(colour="brown"), Look()),
                               "next to", 12, rng)
        assert mentions(caption, "horse") and mentions(caption, "umbrella")
        assert word_count(caption) <= 12 and caption_problem(caption, ["horse", "umbrella"]) is None
        seen.add(caption)
    assert "A brown horse next to an umbrella." in seen and len(seen) >= 3


def test_templates_vary():
    rng = random.Random(4)
    captions = {concept_caption("bicycle", Look(colour="blue"), 12, rng) for _ in range(60)}
    assert len(captions) >= 8
    assert len({c.split()[1] for c in captions}) >= 3  # not one opening with new words


def test_each_kind_is_offered_only_options_that_fit_it():
    assert poses_for("teapot") == () and kind_of("teddy bear") == "thing"
    assert "grazing" in poses_for("horse") and "flying" not in poses_for("penguin")
    assert "swimming" in poses_for("goldfish") and "running" not in poses_for("goldfish")
    assert set(look_schema("horse")["properties"]) == {"pose"}
    assert set(look_schema("strawberry")["properties"]) == {"size"}
    assert "sliced" in look_schema("pizza")["properties"]["size"]["enum"]
    props = look_schema("teapot")["properties"]
    assert set(props) == {"colour", "size"} and props["colour"]["enum"] == list(COLOURS)
    assert set(pair_schema("horse", "teapot")["properties"]) == {"second_colour", "relation"}
    assert set(pair_schema("kite", "teapot")["properties"]) == {
        "first_colour", "second_colour", "relation"}


def test_none_leaves_a_field_out():
    assert read_look({"colour": "red", "size": "none"}) == Look(colour="red")


def test_views_name_no_other_object():
    for view in VIEWS:
        assert not any(w in view for w in ("table", "shelf", "hand")), view


# -- the compose option --------------------------------------------------------------


def test_compose_option_is_validated_and_auto_is_template():
    assert C2capOptions().compose == "auto"
    assert C2capOptions().path("c2cap") == "template"
    assert C2capOptions(compose="model").path("c2cap") == "model"
    assert resolve("auto", "c2cap", "smollm2-135m-instruct") == "template"
    with pytest.raises(ValueError, match="compose"):
        C2capOptions(compose="rules")


def test_a_bad_compose_in_a_recipe_is_a_one_line_error(pool_file, run_recipe):
    from instructgen.errors import UserError

    with pytest.raises(UserError, match="compose"):
        run_recipe({"source": {"name": "concept_pool", "path": str(pool_file(["dog"]))},
                    "generator": {"name": "c2cap", "compose": "words"},
                    "backend": {"name": "fake"}})


@pytest.mark.parametrize("generator", ["c2cap", "cb2cap", "cc2cap"])
def test_template_path_asks_for_closed_fields_only(pool_file, run_recipe, fake_backend,
                                                   generator):
    asked = []

    def respond(request):
        asked.append(request.schema)
        props = request.schema["properties"]
        return json.dumps({k: v["enum"][-1] for k, v in props.items()})

    path = pool_file({"horse": ["green meadow"], "teapot": ["kitchen counter"]})
    source = "concept_pairs" if generator == "cc2cap" else "concept_pool"
    result = run_recipe({"source": {"name": source, "path": str(path),
                                    "shape": "concept_backgrounds"},
                         "generator": {"name": generator, "compose": "template"},
                         "backend": {"name": "fake"}, "seed": 1},
                        backend=fake_backend(responder=respond))
    assert result.data and not result.rejections
    assert all("caption" not in s["properties"] for s in asked)
    assert all("enum" in p for s in asked for p in s["properties"].values())
    for rec in result.data:
        concepts = rec.get("concepts") or [rec["concept"]]
        assert all(mentions(rec["caption"], c) for c in concepts), rec
        assert caption_problem(rec["caption"], concepts, [rec.get("background") or ""]) is None


def test_large_things_and_wild_animals_get_no_table_or_room():
    from instructgen.plugins.concepts.lexicon import fits_setting
    from instructgen.plugins.concepts.templates import place_head

    assert place_head("on the shipbuilding area") == "area"
    assert place_head("vase on a table") == "vase"
    for concept in ("giraffe", "helicopter", "penguin"):
        assert not fits_setting(concept, place_head("breakfast tray")), concept
        assert not fits_setting(concept, place_head("antique shop")), concept
        assert fits_setting(concept, place_head("rocky shore")), concept
    assert fits_setting("teapot", place_head("breakfast tray"))
    assert fits_setting("kitten", place_head("living room"))
    # Water holds what floats or swims; a fish is only in water, a boat only near it.
    assert not fits_setting("suitcase", place_head("lake at sunset"))
    assert fits_setting("sailboat", place_head("lake at sunset"))
    assert not fits_setting("sailboat", place_head("skate park"))
    assert fits_setting("sailboat", place_head("boatyard"))
    assert not fits_setting("goldfish", place_head("cafe table"))
    assert fits_setting("goldfish", place_head("garden pond"))


def test_cc2cap_template_appends_only_backgrounds_both_concepts_fit(pool_file, run_recipe,
                                                                   fake_backend):
    from concept_answers import field_answer

    path = pool_file({"giraffe": ["savanna"], "teapot": ["breakfast tray", "kitchen shelf"],
                      "cup": ["breakfast tray"]})
    result = run_recipe({"source": {"name": "concept_pairs", "path": str(path),
                                    "shape": "concept_backgrounds"},
                         "generator": {"name": "cc2cap", "compose": "template",
                                       "append_backgrounds": 3},
                         "backend": {"name": "fake"}, "seed": 2},
                        backend=fake_backend(responder=field_answer))
    by_pair = {}
    for rec in result.data:
        by_pair.setdefault(tuple(rec["concepts"]), set()).add(rec["background"])
    assert by_pair[("giraffe", "teapot")] == {"savanna"}
    assert by_pair[("teapot", "cup")] == {"breakfast tray", "kitchen shelf"}
    assert any("on a breakfast tray" in r["caption"] for r in result.data)


def test_side_by_side_only_for_things_of_one_scale():
    rng = random.Random(6)
    mixed = {pair_caption(("alarm clock", "windmill"), (Look(), Look()), "beside", 12, rng)
             for _ in range(40)}
    assert not any("side by side" in c for c in mixed)
    same = {pair_caption(("alarm clock", "teapot"), (Look(), Look()), "beside", 12, rng)
            for _ in range(40)}
    assert "An alarm clock and a teapot side by side." in same


def test_a_fish_pair_without_water_is_rejected_by_name(pool_file, run_recipe, fake_backend):
    from concept_answers import field_answer

    path = pool_file({"goldfish": ["garden pond"], "camera": ["camera shop"],
                      "duck": ["village pond"]})
    result = run_recipe({"source": {"name": "concept_pairs", "path": str(path),
                                    "shape": "concept_backgrounds"},
                         "generator": {"name": "cc2cap", "compose": "template",
                                       "append_backgrounds": 1},
                         "backend": {"name": "fake"}, "seed": 2},
                        backend=fake_backend(responder=field_answer))
    by_pair = {tuple(r["concepts"]): r for r in result.data}
    assert by_pair[("goldfish", "duck")]["background"] in ("garden pond", "village pond")
    assert ("camera", "duck") in by_pair
    assert [(r.item_id, r.reason) for r in result.rejections] == [
        ("goldfish|camera", "no_fitting_scene")]
