"""Every branch of the ``edit`` generator's per-item flow, on the fake backend."""

from __future__ import annotations

import itertools
import json

import pytest
from edit_fakes import (
    FAKE,
    Scripted,
    caption_in,
    is_judge,
    jsonl_source,
    replace_last_noun,
    type_of,
)

from instructgen.backends.fake import FakeBackend
from instructgen.errors import RecipeError


def recipe(tmp_path, rows, **generator):
    return {"seed": 3, "batch_size": 4, "max_retries": 1, "backend": FAKE,
            "source": jsonl_source(tmp_path / "in.jsonl", rows),
            # The judge is off by default (docs/edits.md); these tests cover it.
            "generator": {"name": "edit", "types": ["replace"], "judge": True,
                          "compose": "model", **generator}}  # scripted model answers


ROWS = [{"id": "a", "caption": "A dog sleeping on a couch.", "image_file": "a.jpg"},
        {"id": "b", "caption": "A red car parked by a fence.", "image_file": "b.jpg"}]


def test_accepted_replace_record_has_fields_image_and_judge(tmp_path, run_recipe):
    script = Scripted()
    res = run_recipe(recipe(tmp_path, ROWS, examples=2), backend=FakeBackend(responder=script))
    assert res.summary.accepted == 2 and res.rejections == []
    by_image = {r.data["image_file"]: r.data for r in res.records}
    rec = by_image["a.jpg"]
    assert rec["edit_type"] == "replace"
    assert rec["input"] == "A dog sleeping on a couch."
    assert rec["edited_object"] == "couch"
    assert rec["new_object"] in rec["output"] and rec["output"] != rec["input"]
    assert rec["judge"] == "yes" and rec["attempts"] == 1
    assert len(rec["few_shot"]) == 2 and all(x.startswith("replace-") for x in rec["few_shot"])
    assert rec["prefilter"] in ("heuristic", "spacy")
    # one edit and one judge request per item, the judge sees the edit it judges
    assert len(script.edit_requests) == 2 and len(script.judge_requests) == 2
    judged = [r.messages[-1].content for r in script.judge_requests]
    assert any(rec["edit"] in j and rec["output"] in j for j in judged)


def test_prefilter_rejects_without_asking_the_model(tmp_path, run_recipe):
    rows = [{"id": "v", "caption": "A bowl of soup on a table.", "image_file": "v.jpg"}]
    script = Scripted()
    res = run_recipe(recipe(tmp_path, rows, types=["action_change"]),
                     backend=FakeBackend(responder=script))
    assert res.records == []
    (rej,) = res.rejections
    assert (rej.stage, rej.reason) == ("prefilter", "missing_verb")
    assert "heuristic" in rej.detail or "spacy" in rej.detail
    assert script.edit_requests == []


def test_invalid_json_is_retried_then_rejected_with_raw_text(tmp_path, run_recipe):
    script = Scripted(edit=lambda c, r: "{not json")
    res = run_recipe(recipe(tmp_path, ROWS[:1], attempts=2),
                     backend=FakeBackend(responder=script))
    assert res.records == []
    assert [r.reason for r in res.rejections] == ["invalid_output", "invalid_output"]
    assert all(r.raw == "{not json" and r.stage == "generate" for r in res.rejections)
    # max_retries=1 → 2 asks per attempt, 2 attempts
    assert len(script.edit_requests) == 4
    assert script.judge_requests == []
    assert res.summary.rejected_items == 1


def test_fresh_seed_and_examples_on_each_retry(tmp_path, run_recipe):
    script = Scripted(edit=lambda c, r: "nope")
    run_recipe(recipe(tmp_path, ROWS[:1], attempts=2, examples=3),
               backend=FakeBackend(responder=script))
    seeds = [r.seed for r in script.edit_requests]
    assert len(set(seeds)) == len(seeds)


def _bad(**changes):
    def edit(caption, req):
        return {**replace_last_noun(caption), **changes}
    return edit


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_bad(edited_object="piano"), "edited_object_not_in_input"),
        (_bad(new_object="trumpet"), "new_object_not_in_output"),
        (lambda c, r: {**replace_last_noun(c), "output": c}, "output_unchanged"),
        (_bad(new_object="man", output="A dog sleeping on a man."), "a_person_in_new_object"),
        (_bad(new_object="couch", output="A dog sleeping on a couch!"), "output_unchanged"),
        (_bad(edit="The couch is a lamp now."), "edit_without_type_verb"),
    ],
)
def test_consistency_checks_reject_with_stage_and_reason(tmp_path, run_recipe, edit, reason):
    script = Scripted(edit=edit)
    res = run_recipe(recipe(tmp_path, ROWS[:1], attempts=1),
                     backend=FakeBackend(responder=script))
    assert res.records == []
    (rej,) = res.rejections
    assert (rej.stage, rej.reason) == ("consistency", reason)
    assert json.loads(rej.raw)["edit"]  # the model's answer is kept
    assert script.judge_requests == []  # the judge is not asked about a failed edit


def test_textual_edit_must_keep_the_word_count(tmp_path, run_recipe):
    rows = [{"id": "t", "caption": 'A sign that says "Fresh Bread".', "image_file": "t.jpg"}]

    def edit(caption, req):
        return {"edit": 'Change "Fresh Bread" to "Cakes".', "text_before": "Fresh Bread",
                "text_after": "Cakes", "output": 'A sign that says "Cakes".'}

    res = run_recipe(recipe(tmp_path, rows, types=["textual_change"], attempts=1),
                     backend=FakeBackend(responder=Scripted(edit=edit)))
    assert [r.reason for r in res.rejections] == ["word_count_changed"]

    def good(caption, req):
        return {"edit": 'Change "Fresh Bread" to "Hot Pies".', "text_before": "Fresh Bread",
                "text_after": "Hot Pies", "output": 'A sign that says "Hot Pies".'}

    res = run_recipe(recipe(tmp_path, rows, types=["textual"], attempts=1),
                     backend=FakeBackend(responder=Scripted(edit=good)), fresh=True)
    assert [r.data["text_after"] for r in res.records] == ["Hot Pies"]


def test_appearance_alter_refuses_colour_words_on_word_boundaries(tmp_path, run_recipe):
    rows = [{"id": "p", "caption": "A cake on a plate.", "image_file": "p.jpg"}]

    def coloured(caption, req):
        return {"edit": "Make the cake red.", "edited_object": "cake",
                "output": "A red cake on a plate."}

    res = run_recipe(recipe(tmp_path, rows, types=["appearance_alter"], attempts=1),
                     backend=FakeBackend(responder=Scripted(edit=coloured)))
    assert [r.reason for r in res.rejections] == ["colour_or_material_words_in_edit"]

    def covered(caption, req):  # "red" inside "covered" is not a colour word
        return {"edit": "Make the cake covered in sprinkles.", "edited_object": "cake",
                "output": "A cake covered in sprinkles on a plate."}

    res = run_recipe(recipe(tmp_path, rows, types=["appearance_alter"], attempts=1),
                     backend=FakeBackend(responder=Scripted(edit=covered)), fresh=True)
    assert res.rejections == [] and res.summary.accepted == 1


@pytest.mark.parametrize(
    ("mode", "answer", "reason"),
    [
        ("json", {"answer": "no"}, "judge_no"),
        ("json", '{"answer": "maybe"}', "judge_unparseable"),
        ("json", "yes", "judge_unparseable"),
        ("text", "No.", "judge_no"),
        ("text", "Yes, it is a replace instruction", "judge_unparseable"),
        ("text", "I would say yes", "judge_unparseable"),
        ("text", "", "judge_unparseable"),
    ],
)
def test_judge_accepts_only_a_strict_yes(tmp_path, run_recipe, mode, answer, reason):
    script = Scripted(judge=lambda r: answer)
    res = run_recipe(recipe(tmp_path, ROWS[:1], attempts=1, judge_format=mode),
                     backend=FakeBackend(responder=script))
    assert res.records == []
    (rej,) = res.rejections
    assert (rej.stage, rej.reason) == ("judge", reason)


@pytest.mark.parametrize(("mode", "answer"), [("json", {"answer": "yes"}), ("text", " Yes. ")])
def test_judge_yes_accepts(tmp_path, run_recipe, mode, answer):
    res = run_recipe(recipe(tmp_path, ROWS[:1], judge_format=mode),
                     backend=FakeBackend(responder=Scripted(judge=lambda r: answer)))
    assert [r.data["judge"] for r in res.records] == ["yes"]


def test_judge_off_asks_nothing(tmp_path, run_recipe):
    script = Scripted()
    res = run_recipe(recipe(tmp_path, ROWS, judge=False), backend=FakeBackend(responder=script))
    assert res.summary.accepted == 2 and script.judge_requests == []
    assert all(r.data["judge"] is None for r in res.records)


def test_a_judge_no_is_retried_with_a_new_attempt(tmp_path, run_recipe):
    verdicts = iter([{"answer": "no"}, {"answer": "yes"}])
    res = run_recipe(recipe(tmp_path, ROWS[:1], attempts=2),
                     backend=FakeBackend(responder=Scripted(judge=lambda r: next(verdicts))))
    assert [r.data["attempts"] for r in res.records] == [2]
    (rej,) = res.rejections
    assert rej.reason == "judge_no" and "retrying" in rej.detail


def test_bad_captions_are_rejected_and_the_run_goes_on(tmp_path, run_recipe):
    rows = [{"id": "1", "caption": "", "image_file": "1.jpg"},
            {"id": "2", "caption": 42, "image_file": "2.jpg"},
            {"id": "3", "caption": "   ", "image_file": "3.jpg"},
            {"id": "4", "caption": "A dog sleeping on a couch.", "image_file": "4.jpg"}]
    res = run_recipe(recipe(tmp_path, rows), backend=FakeBackend(responder=Scripted()))
    assert [r.data["image_file"] for r in res.records] == ["4.jpg"]
    assert [(r.item_id, r.reason, r.stage) for r in res.rejections] == [
        ("1", "bad_caption", "input"), ("2", "bad_caption", "input"),
        ("3", "bad_caption", "input")]
    assert "int" in res.rejections[1].detail


def test_right_record_reaches_the_right_image_when_items_are_prefiltered(tmp_path, run_recipe):
    # Items without a verb are prefiltered out of an action_change run; the
    # survivors' answers must still land on their own image.
    rows = []
    for i in range(12):
        if i % 3 == 0:
            rows.append({"id": f"n{i}", "caption": f"A bowl of soup number {i}.",
                         "image_file": f"{i}.jpg"})
        else:
            rows.append({"id": f"v{i}", "caption": f"A dog{i} running in a park.",
                         "image_file": f"{i}.jpg"})

    def edit(caption, req):
        subject = caption.split()[1]
        return {"edit": f"Change the {subject}'s action to sitting.", "edited_object": subject,
                "output": f"A {subject} sitting in a park."}

    res = run_recipe({**recipe(tmp_path, rows, types=["action_change"]), "batch_size": 5},
                     backend=FakeBackend(responder=Scripted(edit=edit)))
    assert res.summary.accepted == 8
    assert sorted(r.reason for r in res.rejections) == ["missing_verb"] * 4
    for r in res.records:
        n = r.data["image_file"].removesuffix(".jpg")
        assert r.item_id == f"v{n}"
        assert r.data["edited_object"] == f"dog{n}"
        assert r.data["input"] == f"A dog{n} running in a park."


def test_multi_turn_chains_each_turn_on_the_previous_output(tmp_path, run_recipe):
    script = Scripted()
    res = run_recipe(recipe(tmp_path, ROWS[:1], turns=3), backend=FakeBackend(responder=script))
    (rec,) = res.data
    assert rec["edit_type"] == "multi_turn" and rec["num_turns"] == 3
    turns = rec["turns"]
    assert turns[0]["input"] == "A dog sleeping on a couch."
    for prev, cur in itertools.pairwise(turns):
        assert cur["input"] == prev["output"]
    assert rec["input"] == turns[0]["input"] and rec["output"] == turns[-1]["output"]
    asked = [caption_in(r) for r in script.edit_requests]
    assert asked == [t["input"] for t in turns]
    assert rec["image_file"] == "a.jpg"


def test_failed_turn_is_retried_then_the_chain_is_dropped_as_a_unit(tmp_path, run_recipe):
    def edit(caption, req):
        if caption == "A dog sleeping on a couch.":
            return replace_last_noun(caption)
        return {**replace_last_noun(caption), "edited_object": "piano"}  # turn 2 always fails

    script = Scripted(edit=edit)
    # constrain = false: "piano" is outside the narrowed schema, which the runner
    # would retry (max_retries) before the generator's own attempt counts.
    res = run_recipe(recipe(tmp_path, ROWS[:1], turns=3, attempts=2, constrain=False),
                     backend=FakeBackend(responder=script))
    assert res.records == []
    first, final = res.rejections
    assert first.reason == final.reason == "edited_object_not_in_input"
    assert "turn 2 of 3" in first.detail and "retrying" in first.detail
    assert "turn 2 of 3" in final.detail and "chain dropped" in final.detail
    assert res.summary.rejected_items == 1
    assert len(script.edit_requests) == 3  # turn 1 once, turn 2 twice, no turn 3


def test_a_chain_turn_failing_the_prefilter_is_retried_then_dropped(tmp_path, run_recipe):
    script = Scripted()
    rows = [{"id": "s", "caption": "A bowl of soup on a table.", "image_file": "s.jpg"}]
    res = run_recipe(recipe(tmp_path, rows, types=["action_change"], turns=2, attempts=3),
                     backend=FakeBackend(responder=script))
    assert res.records == [] and script.edit_requests == []
    assert [(r.stage, r.reason) for r in res.rejections] == [("prefilter", "missing_verb")] * 3
    assert "chain dropped" in res.rejections[-1].detail


def test_judge_calls_are_batched_across_items(tmp_path, run_recipe):
    backend = FakeBackend(responder=Scripted())
    rows = [{"id": str(i), "caption": f"A dog{i} on a couch.", "image_file": f"{i}.jpg"}
            for i in range(4)]
    res = run_recipe({**recipe(tmp_path, rows), "batch_size": 4}, backend=backend)
    assert res.summary.accepted == 4
    judge_batches = [sum(map(is_judge, call)) for call in backend.calls]
    assert max(judge_batches) == 4 and len(backend.calls) == 2


def test_global_types_only_in_the_last_turn(tmp_path, run_recipe):
    rows = [{"id": str(i), "caption": f"A dog{i} sleeping on a couch.", "image_file": "x.jpg"}
            for i in range(20)]
    seen: list[tuple[int, str]] = []

    def edit(caption, req):
        kind = type_of(req)
        seen.append((caption.count("lamp") + caption.count("vase"), kind))
        if kind.startswith("time"):
            return {"edit": "Make it night.", "new_state": "night",
                    "output": caption.rstrip(".") + " at night."}
        return replace_last_noun(caption)

    res = run_recipe(recipe(tmp_path, rows, types=["replace", "tone_transfer"], turns=3,
                            weights=[1, 5]), backend=FakeBackend(responder=Scripted(edit=edit)))
    assert res.summary.accepted == 20
    for rec in res.data:
        kinds = [t["edit_type"] for t in rec["turns"]]
        assert kinds[:2] == ["replace", "replace"]
    assert any(t["edit_type"] == "tone_transfer" for r in res.data for t in r["turns"])


@pytest.mark.slow
def test_weighted_mix_follows_the_weights(tmp_path, run_recipe):
    rows = [{"id": str(i), "caption": f"A cat{i} sleeping on a couch.", "image_file": "x.jpg"}
            for i in range(200)]
    script = Scripted(edit=lambda c, r: "x")
    run_recipe({**recipe(tmp_path, rows, types=["replace", "remove"], weights=[9, 1],
                         attempts=1), "max_retries": 0, "max_failure_share": 1.0},
               backend=FakeBackend(responder=script))
    kinds = [type_of(r) for r in script.edit_requests]
    share = kinds.count("replace an object") / len(kinds)
    assert len(kinds) == 200 and 0.8 < share < 0.97


def test_few_shot_examples_are_seeded_and_the_pool_is_untouched(tmp_path, run_recipe):
    from instructgen.plugins.edits import BUILTIN_EDIT_TYPES

    replace = next(t for t in BUILTIN_EDIT_TYPES if t.name == "replace")
    before = list(replace.examples)
    runs = []
    for n in range(2):
        res = run_recipe({**recipe(tmp_path, ROWS, examples=3), "output_dir":
                          str(tmp_path / f"run{n}"), "cache": {"enabled": False}},
                         backend=FakeBackend(responder=Scripted()))
        runs.append({r.item_id: r.data["few_shot"] for r in res.records})
    assert runs[0] == runs[1]
    assert runs[0]["a"] != runs[0]["b"]
    assert list(replace.examples) == before


def test_unknown_type_names_their_key_path(tmp_path, run_recipe):
    with pytest.raises(RecipeError) as err:
        run_recipe(recipe(tmp_path, ROWS, types=["add", "remove", "colour_alter"]),
                   backend=FakeBackend(responder=Scripted()))
    assert ("generator.types[2]: unknown edit type 'colour_alter'; did you mean "
            "'color_alter'?") in str(err.value)


def test_weights_must_match_types(tmp_path, run_recipe):
    with pytest.raises(RecipeError, match="weights has 1 entries but types has 2"):
        run_recipe(recipe(tmp_path, ROWS, types=["add", "remove"], weights=[1.0]),
                   backend=FakeBackend(responder=Scripted()))


def test_an_empty_source_is_fine(tmp_path, run_recipe):
    res = run_recipe(recipe(tmp_path, []), backend=FakeBackend(responder=Scripted()))
    assert res.summary.status == "finished" and res.records == [] and res.rejections == []


def test_spacy_mode_without_spacy_is_a_clear_error(tmp_path, run_recipe):
    from instructgen.plugins.edits.prefilter import load_spacy

    if load_spacy() is not None:
        pytest.skip("spaCy and en_core_web_sm are installed here")
    with pytest.raises(RecipeError, match="en_core_web_sm"):
        run_recipe(recipe(tmp_path, ROWS, prefilter="spacy"),
                   backend=FakeBackend(responder=Scripted()))
