"""The edit sense checks: each rejects the record it names and passes a good one; the
generator runs them on every answer, so a fluent-looking wrong record is rejected by name."""

from __future__ import annotations

import json

import pytest

from instructgen.backend import LLMRequest
from instructgen.backends.fake import FakeBackend
from instructgen.plugins.edits import BUILTIN_EDIT_TYPES
from instructgen.plugins.edits.sense import sense_checks

TYPES = {t.name: t for t in BUILTIN_EDIT_TYPES}
SEA = "A seagull standing on a rock by the sea."


def failures(etype: str, caption: str, result: dict[str, str]) -> list[str]:
    return [c.name for c in sense_checks(TYPES[etype]) if c(caption, result) is not None]


@pytest.mark.parametrize("etype", BUILTIN_EDIT_TYPES, ids=lambda t: t.name)
def test_every_hand_written_example_makes_sense(etype) -> None:
    for ex in etype.examples:
        assert failures(etype.name, ex.input, ex.result()) == [], ex


@pytest.mark.parametrize(("etype", "caption", "result", "reason"), [
    ("add", "A man on a horse.",
     {"edit": "Add a hat to the man.", "edited_object": "hat",
      "output": "A crazy guy. A crazy guy. A crazy guy."}, "output_repeated_ngram"),
    ("add", "A man on a horse.",
     {"edit": "Add a hat hat to the man.", "edited_object": "hat",
      "output": "A man with a hat on a horse."}, "edit_repeated_phrase"),
    ("color_alter", "A pizza on a table.",
     {"edit": "Change the pizza to red.", "edited_object": "pizza",
      "output": "A red pizzaServed on a table."}, "output_glued_word"),
    ("color_alter", "A boat on a river.",
     {"edit": "Change the boat to \u0443ellow.", "edited_object": "boat",
      "output": "A yellow boat on a river."}, "edit_non_ascii"),
    ("remove", "A cat cutting a cake on a table.",
     {"edit": "Remove the cat.", "edited_object": "cat",
      "output": "A cake on a table cutting it into to a"}, "output_dangling_word"),
    ("add", "A man on a horse.",
     {"edit": "Add a hat. Then add a dog.", "edited_object": "hat",
      "output": "A man with a hat on a horse."}, "edit_several_sentences"),
    ("add", "A cat on a mat.",
     {"edit": "Add a hat.", "edited_object": "hat",
      "output": "A cat on a mat with a hat and a dog and a bird under a tree in the sun."},
     "output_too_long"),
    ("texture_alter", "A living room with a couch and a lamp.",
     {"edit": "Make the couch furry.", "edited_object": "couch",
      "output": "A bicycle next to a wall with a furry couch."}, "output_drops_input"),
    ("color_alter", "A red car parked next to a building.",
     {"edit": "Change the car to blue.", "edited_object": "car",
      "output": "A blue car parked next to a building with pizza, apples and a giraffe."},
     "output_adds_unasked"),
    ("background_change", SEA,
     {"edit": "Move the seagull to the rock.", "new_background": "rock",
      "output": "A seagull standing next to a rock by the sea."}, "background_not_changed"),
    ("background_change", SEA,
     {"edit": "Change the background to a city street.", "new_background": "city street",
      "output": "A seagull standing on a rock by the sea in a city street."},
     "background_kept"),
    ("background_change", SEA,
     {"edit": "Change the background to a city street.", "new_background": "city street",
      "output": "A bicycle in a city street."}, "subject_lost"),
    ("tone_transfer", "A dog sitting on the grass.",
     {"edit": "Make it night.", "new_state": "night",
      "output": "A cat and a bird flying over a city at night."}, "tone_changes_more"),
    ("action_change", "A dog sitting on the grass.",
     {"edit": "Change the dog's action to sitting.", "edited_object": "dog",
      "output": "A dog sitting on the green grass."}, "action_not_changed"),
    ("color_alter", "A grey cat curled up on a chair.",
     {"edit": "Paint the cat gray", "edited_object": "cat",
      "output": "A gray cat curled up on a chair."}, "colour_not_new"),
    ("material_alter", "an old stone bridge over a quiet river",
     {"edit": "Make the bridge out of stone", "edited_object": "bridge",
      "output": "An old stone bridge over a quiet river."}, "material_not_new"),
    ("color_alter", "a red kite flying over a sandy beach",
     {"edit": "Change the kite's color to gold", "edited_object": "kite",
      "output": "A gold red kite flying over a sandy beach."}, "old_colour_kept"),
])
def test_a_record_that_makes_no_sense_is_named(etype, caption, result, reason) -> None:
    assert reason in failures(etype, caption, result)


def test_a_sign_the_input_already_shows_is_not_held_against_the_output() -> None:
    caption = "A dog. A cat on a mat."
    result = {"edit": "Add a hat.", "edited_object": "hat",
              "output": "A dog. A cat with a hat on a mat."}
    assert "output_several_sentences" not in failures("add", caption, result)
    assert "output_several_sentences" in failures("add", "A dog and a cat on a mat.",
                                                  {**result, "output": "A dog. A hat."})


def test_fitting_records_pass_the_type_checks() -> None:
    assert failures("background_change", SEA, {
        "edit": "Change the background to a city street.", "new_background": "city street",
        "output": "A seagull standing on a bench in a city street."}) == []
    assert failures("action_change", "A dog sitting on the grass.", {
        "edit": "Change the dog's action to running.", "edited_object": "dog",
        "output": "A dog running on the grass."}) == []
    assert failures("color_alter", "a red kite flying over a sandy beach", {
        "edit": "Change the kite's color to navy blue", "edited_object": "kite",
        "output": "A navy blue kite flying over a sandy beach."}) == []
    assert failures("tone_transfer", "A dog sitting on the grass.", {
        "edit": "Make it a snowy winter day.", "new_state": "winter",
        "output": "A dog sitting on the snowy grass in winter."}) == []


def test_the_generator_rejects_by_the_sense_check_name(tmp_path, run_recipe) -> None:
    """A well-formed answer (object in the caption, output differs) that is not the
    caption with one change is rejected at the consistency stage, naming the check."""
    rows = tmp_path / "in.jsonl"
    rows.write_text(json.dumps({"id": "a", "caption": "A dog sleeping on a couch in a "
                                "living room."}) + "\n")

    def answer(req: LLMRequest) -> str:
        return json.dumps({"edit": "Remove the dog.", "edited_object": "dog",
                           "output": "A bicycle leaning on a fence outside a garage."})

    res = run_recipe({"seed": 3, "max_retries": 0, "backend": {"name": "fake"},
                      "source": {"name": "captions", "path": str(rows), "id_column": "id"},
                      "generator": {"name": "edit", "types": ["remove"], "attempts": 1,
                                    "constrain": False, "compose": "model"}},
                     backend=FakeBackend(responder=answer))
    assert res.records == []
    (rej,) = res.rejections
    assert (rej.stage, rej.reason) == ("consistency", "output_drops_input")
