"""The ``expression_change`` edit type: registered, and its own examples pass its checks."""

from __future__ import annotations

import json

import pytest
from instructgen.plugins.edits import get_edit_types

from instructgen_example import plugin
from instructgen_example.expression import EXPRESSION_CHANGE


def test_registered_next_to_the_builtin_types(registry_with):
    types = get_edit_types(registry_with(plugin))
    assert types["expression_change"].dist == "embedded"  # given as an object, not installed
    assert "replace" in types  # the builtins are still there


@pytest.mark.parametrize("example", EXPRESSION_CHANGE.examples, ids=lambda e: e.edit)
def test_every_few_shot_example_passes_the_checks(example):
    for check in EXPRESSION_CHANGE.checks:
        assert check(example.input, example.result()) is None, check.name


@pytest.mark.parametrize("change, failing", [
    ({"output": "A woman reading a letter at a kitchen table."}, "output_unchanged"),
    ({"edited_object": "giraffe"}, "edited_object_not_in_input"),
    ({"new_state": "purple", "output": "A purple woman reading a letter."},
     "no_expression_in_new_state"),
])
def test_bad_answers_fail_a_named_check(change, failing):
    result = {**EXPRESSION_CHANGE.examples[0].result(), **change}
    failed = [c.name for c in EXPRESSION_CHANGE.checks
              if c(EXPRESSION_CHANGE.examples[0].input, result) is not None]
    assert failing in failed


def test_a_run_through_the_edit_generator(run_recipe, fake_backend, tmp_path):
    def answer(request):
        if "answer" in (request.schema or {}).get("properties", {}):
            return json.dumps({"answer": "yes"})  # the yes/no judge
        caption = request.messages[-1].content.removeprefix("Caption: ")
        return json.dumps({"edit": "Make the cat look sleepy.", "edited_object": "cat",
                           "new_state": "sleepy", "output": "A sleepy " + caption[2:]})

    rows = tmp_path / "c.tsv"
    rows.write_text("image_file\tcaption\nc.jpg\tA cat on a mat.\nd.jpg\tA dog on a rug.\n")
    res = run_recipe({"source": {"name": "tsv_captions", "path": str(rows)},
                      "generator": {"name": "edit", "types": ["expression_change"]},
                      "backend": {"name": "fake"}},
                     backend=fake_backend(responder=answer), plugins=[plugin])
    assert [r.data["new_state"] for r in res.records] == ["sleepy"]
    # the dog caption has no cat: the consistency check rejects it, with the raw answer
    (rej,) = [r for r in res.rejections if r.item_id == "d.jpg"][-1:]
    assert rej.reason == "edited_object_not_in_input" and "cat" in rej.raw
