"""The four generators end to end on the fake backend, with scripted answers."""

from __future__ import annotations

import json

import pytest
from concept_answers import caption_for, last_user

from instructgen.errors import UserError
from instructgen.plugins.concepts.backgrounds import normalize_background
from instructgen.plugins.concepts.compose import append_background, has_scene


def recipe(source: dict, generator: dict, **extra) -> dict:
    return {"source": source, "generator": generator, "backend": {"name": "fake"},
            "seed": 3, **extra}


# -- c2b ------------------------------------------------------------------------------


def test_normalize_background():
    assert normalize_background('  "The Snowy  Field." ') == "snowy field"
    assert normalize_background("an old barn", "indefinite") == "an old barn"
    assert normalize_background("orchard", "indefinite") == "an orchard"


def c2b_responder(batches):
    """Answer each attempt with the next scripted list; record every prompt."""
    prompts = []

    def respond(request):
        prompts.append(last_user(request))
        head = last_user(request).splitlines()[0]
        attempt = sum(1 for p in prompts if p.splitlines()[0] == head) - 1
        answer = batches[attempt] if attempt < len(batches) else []
        return json.dumps(answer or ["x"])

    return respond, prompts


def test_c2b_normalizes_drops_junk_and_dedups(pool_file, run_recipe, fake_backend):
    respond, prompts = c2b_responder([
        ["The Snowy Field", "snowy fields", "a park", "--", "dog kennel", "snowyfield",
         "one two three four five six seven", "Pet Store!"],
        ["pet store", "city park", "sandy beach", "park"],
    ])
    result = run_recipe(
        recipe({"name": "concept_pool", "path": str(pool_file(["dog"]))},
               {"name": "c2b", "target": 5, "max_attempts": 2, "near_threshold": 0.9}),
        backend=fake_backend(responder=respond))
    (data,) = result.data
    assert data["backgrounds"] == ["snowy field", "park", "pet store", "city park",
                                   "sandy beach"]
    counts = data["counts"]
    assert counts == {"returned": 12, "empty": 1, "too_long": 1, "contains_concept": 1,
                      "duplicate": 4, "near_duplicate": 0, "surplus": 0, "kept": 5}
    assert sum(v for k, v in counts.items() if k not in ("returned", "kept")) + 5 == 12
    assert data["dropped"]["contains_concept"] == ["dog kennel"]
    assert data["attempts"] == 2 and data["complete"] is True
    # The second attempt shows the model what it already has.
    assert "Already listed" in prompts[1] and "snowy field" in prompts[1]


def test_c2b_stops_at_target_and_at_max_attempts(pool_file, run_recipe, fake_backend):
    many = [[f"place {w}" for w in "abcdefghij"]] * 5
    respond, prompts = c2b_responder(many)
    result = run_recipe(
        recipe({"name": "concept_pool", "path": str(pool_file(["owl"]))},
               {"name": "c2b", "target": 4, "max_attempts": 5, "near_threshold": 1.0}),
        backend=fake_backend(responder=respond))
    (data,) = result.data
    assert len(data["backgrounds"]) == 4 and data["attempts"] == 1
    assert data["counts"]["surplus"] == 6
    assert len(prompts) == 1

    respond, prompts = c2b_responder([["same spot"]] * 5)
    result = run_recipe(
        recipe({"name": "concept_pool", "path": str(pool_file(["cat"], "cat.json"))},
               {"name": "c2b", "target": 20, "max_attempts": 3}),
        backend=fake_backend(responder=respond), fresh=True)
    (data,) = result.data
    assert data["backgrounds"] == ["same spot"]
    assert data["attempts"] == 3 and data["complete"] is False
    assert data["counts"]["duplicate"] == 2


def test_c2b_target_is_capped_at_50(pool_file, run_recipe):
    from instructgen.errors import RecipeError

    with pytest.raises(RecipeError, match="target"):
        run_recipe(recipe({"name": "concept_pool", "path": str(pool_file(["dog"]))},
                          {"name": "c2b", "target": 51}))


def test_c2b_output_reads_back_as_a_pool(pool_file, run_recipe, fake_backend, tmp_path):
    respond, _ = c2b_responder([["garden", "sofa"], ["porch"]])
    result = run_recipe(
        recipe({"name": "concept_pool", "path": str(pool_file(["cat"]))},
               {"name": "c2b", "target": 3}, sink={"name": "jsonl"}),
        backend=fake_backend(responder=respond))
    from instructgen.plugins.concepts.pool import load_pool

    for name in ("records.jsonl", "output.jsonl"):
        pool = load_pool([result.run_dir / name])
        assert pool.get("cat").backgrounds == ["garden", "sofa", "porch"]


# -- c2cap ----------------------------------------------------------------------------


def test_c2cap_retries_until_the_rules_hold(pool_file, run_recipe, fake_backend):
    bad = iter([
        "A beautiful dog.",                        # opinion word
        "A dog. It sleeps.",                       # two sentences
        "Three cats on a sofa.",                   # concept missing
        "A dog with 3 toys.",                      # digits
        "A dog lying on a rug in a warm living room near the fireplace today.",  # 14 words
    ])

    def respond(request):
        text = next(bad, None)
        return json.dumps({"caption": text or caption_for(request)})

    path = pool_file(["dog"])
    result = run_recipe(
        recipe({"name": "concept_pool", "path": str(path),
                "shape": "concept_backgrounds"},
               {"name": "c2cap", "max_words": 12, "compose": "model"}, max_retries=5),
        backend=fake_backend(responder=respond))
    assert result.data == [{"concept": "dog", "caption": "A dog on a wooden table.",
                            "sources": [str(path)]}]
    assert result.summary.invalid_answers == 5


def test_c2cap_rejection_keeps_the_reason(pool_file, run_recipe, fake_backend):
    result = run_recipe(
        recipe({"name": "concept_pool", "path": str(pool_file(["dog", "cat"]))},
               {"name": "c2cap", "compose": "model"}, max_retries=1),
        backend=fake_backend(responder=lambda r: json.dumps({"caption": "A cat asleep."})))
    assert [d["concept"] for d in result.data] == ["cat"]
    (rej,) = result.rejections
    assert rej.reason == "invalid_output" and "does not mention 'dog'" in rej.detail
    assert rej.raw == '{"caption": "A cat asleep."}'
    assert result.summary.items == 2 == result.summary.accepted + result.summary.rejected_items


# -- cb2cap ---------------------------------------------------------------------------


def test_cb2cap_draws_k_backgrounds_without_replacement(pool_file, run_recipe, fake_backend,
                                                        good_captions):
    backgrounds = [f"place {c}" for c in "abcdefgh"]
    path = pool_file({"dog": backgrounds, "cat": ["sofa"], "owl": []})
    spec = recipe({"name": "concept_pool", "path": str(path),
                "shape": "concept_backgrounds"}, {"name": "cb2cap", "k": 3, "compose": "model"})
    result = run_recipe(spec, backend=fake_backend(responder=good_captions))
    dog = [d for d in result.data if d["concept"] == "dog"]
    assert len(dog) == 3 and len({d["background"] for d in dog}) == 3
    assert all(d["background"] in backgrounds for d in dog)
    assert all(d["mentions_background"] and d["background_overlap"] == 1.0 for d in dog)
    assert [d["background"] for d in result.data if d["concept"] == "cat"] == ["sofa"]
    assert [(r.item_id, r.reason) for r in result.rejections] == [("owl", "no_backgrounds")]
    # Seeded: the same recipe draws the same backgrounds; another seed draws others.
    again = run_recipe({**spec, "output_dir": str(result.run_dir) + "-2"},
                       backend=fake_backend(responder=good_captions))
    assert again.data == result.data
    draws = set()
    for seed in range(6):
        other = run_recipe({**spec, "seed": seed, "output_dir": f"{result.run_dir}-s{seed}"},
                           backend=fake_backend(responder=good_captions))
        draws.add(tuple(d["background"] for d in other.data if d["concept"] == "dog"))
    assert len(draws) > 1


def test_cb2cap_records_whether_the_background_is_mentioned(pool_file, run_recipe,
                                                            fake_backend):
    path = pool_file({"kite": ["windy beach", "grassy hill"]})
    result = run_recipe(
        recipe({"name": "concept_pool", "path": str(path),
                "shape": "concept_backgrounds"}, {"name": "cb2cap", "k": 2, "compose": "model"}),
        backend=fake_backend(responder=lambda r: json.dumps(
            {"caption": "A red kite on a windy beach." if "windy" in last_user(r)
             else "A red kite in the sky."})))
    by_bg = {d["background"]: d for d in result.data}
    assert by_bg["windy beach"]["mentions_background"] is True
    assert by_bg["grassy hill"]["mentions_background"] is False
    assert by_bg["grassy hill"]["background_overlap"] == 0.0


# -- cc2cap ---------------------------------------------------------------------------


def test_scene_detection():
    concepts = ["cat", "ladder"]
    assert has_scene("A cat on a ladder in the garden.", concepts)
    assert not has_scene("A cat on the ladder.", concepts)
    assert not has_scene("A cat sitting next to a ladder.", concepts)
    assert append_background("A cat and a ladder.", "orchard") == \
        "A cat and a ladder in an orchard."


def test_cc2cap_appends_pool_backgrounds_and_marks_them(pool_file, run_recipe, fake_backend):
    path = pool_file({"cat": ["garden", "porch", "attic"], "ladder": ["barn"], "owl": []})

    def respond(request):
        text = last_user(request)
        if "owl" in text:
            return json.dumps({"caption": caption_for(request)[:-1] + " in the forest."})
        return json.dumps({"caption": caption_for(request)})

    result = run_recipe(
        recipe({"name": "concept_pairs", "path": str(path),
                "shape": "concept_backgrounds"},
               {"name": "cc2cap", "append_backgrounds": 2, "compose": "model"}),
        backend=fake_backend(responder=respond))
    appended = [d for d in result.data if d["background_appended"]]
    assert {tuple(d["concepts"]) for d in appended} == {("cat", "ladder")}
    assert len(appended) == 2 and len({d["background"] for d in appended}) == 2
    for d in appended:
        assert d["background"] in ["garden", "porch", "attic", "barn"]
        assert d["caption"].startswith(d["base_caption"][:-1])
        assert d["caption"].endswith(f" {d['background']}.")
    scened = [d for d in result.data if not d["background_appended"]]
    assert len(scened) == 2 and all(d["has_scene"] and d["background"] is None for d in scened)
    assert result.summary.items == 3


def test_cc2cap_needs_pairs(pool_file, run_recipe, fake_backend, good_captions):
    with pytest.raises(UserError, match="concept_pairs"):
        run_recipe(recipe({"name": "concept_pool", "path": str(pool_file(["a", "b"]))},
                          {"name": "cc2cap"}), backend=fake_backend(responder=good_captions))


def test_cc2cap_with_one_concept_is_a_clear_error(pool_file, run_recipe):
    with pytest.raises(UserError, match="at least 2 distinct concepts"):
        run_recipe(recipe({"name": "concept_pairs", "path": str(pool_file(["solo"]))},
                          {"name": "cc2cap"}))
