"""An accepted instruction is short prose: at most 100 characters, no words joined by
underscores. Constrained decoding can force a small model to ramble until a pattern lets
it stop ("... to red" after 200 characters); these checks reject that, and the schema's
``maxLength`` on ``edit`` keeps the constrained answer inside the same bound."""

from __future__ import annotations

import pytest
from edit_fakes import FAKE, Scripted, jsonl_source

from instructgen.backends.fake import FakeBackend
from instructgen.plugins.edits import BUILTIN_EDIT_TYPES
from instructgen.plugins.edits.checks import (
    EDIT_MAX_CHARS,
    prose_instruction,
    short_instruction,
)
from instructgen.plugins.edits.constraints import item_schema
from instructgen.plugins.edits.prefilter import make_analyzer

ROW = [{"id": "a", "caption": "A dog sleeping on a couch.", "image_file": "a.jpg"}]


def test_the_length_bound_is_inclusive() -> None:
    check = short_instruction()
    assert check("c", {"edit": "x" * EDIT_MAX_CHARS}) is None
    assert check("c", {"edit": "x" * (EDIT_MAX_CHARS + 1)}) == (
        f"the instruction has {EDIT_MAX_CHARS + 1} characters (at most {EDIT_MAX_CHARS})")


def test_underscored_words_are_not_prose() -> None:
    check = prose_instruction()
    assert check("c", {"edit": "Turn the dog red."}) is None
    assert check("c", {"edit": "turn_on_the_light"}) is not None


@pytest.mark.parametrize("etype", BUILTIN_EDIT_TYPES, ids=lambda t: t.name)
def test_the_item_schema_bounds_the_instruction(etype) -> None:
    caption = 'A dog sleeping on a couch under a sign that reads "OPEN".'
    schema = item_schema(etype, caption, make_analyzer("heuristic"))
    assert schema["properties"]["edit"]["maxLength"] == EDIT_MAX_CHARS


@pytest.mark.parametrize(("edit", "reason"), [
    ("Remove the dog " + "and the dog again " * 6 + "from the couch.", "edit_too_long"),
    ("remove_the_dog_from_the_couch", "edit_not_prose"),
])
def test_a_rambling_answer_is_rejected_by_name(tmp_path, run_recipe, edit, reason) -> None:
    script = Scripted(edit=lambda caption, req: {"edit": edit, "edited_object": "dog",
                                                 "output": "A couch."})
    res = run_recipe({"seed": 3, "max_retries": 0, "backend": FAKE,
                      "source": jsonl_source(tmp_path / "in.jsonl", ROW),
                      "generator": {"name": "edit",
                                    "compose": "model", "types": ["remove"], "attempts": 1,
                                    "constrain": False}},
                     backend=FakeBackend(responder=script))
    assert res.records == []
    (rej,) = res.rejections
    assert (rej.stage, rej.reason) == ("consistency", reason)
