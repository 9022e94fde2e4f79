"""Few-shot examples laid out for prefix reuse: pool order, and fixed per-type example sets."""

from __future__ import annotations

import random

import pytest

from instructgen.plugins.edits import BUILTIN_EDIT_TYPES
from instructgen.plugins.edits.generator import EditOptions
from instructgen.plugins.edits.prompts import edit_request, sample_examples

REPLACE = next(t for t in BUILTIN_EDIT_TYPES if t.name == "replace")


@pytest.mark.parametrize("sets", [0, 3])
def test_examples_come_in_pool_order(sets: int) -> None:
    for seed in range(20):
        picks = [i for i, _ in sample_examples(REPLACE, 3, random.Random(seed), sets=sets)]
        assert picks == sorted(picks) and len(set(picks)) == 3


def test_example_sets_limit_the_draws_and_repeat_across_runs() -> None:
    draws = {tuple(i for i, _ in sample_examples(REPLACE, 3, random.Random(s), sets=2))
             for s in range(50)}
    again = {tuple(i for i, _ in sample_examples(REPLACE, 3, random.Random(s), sets=2))
             for s in range(50)}
    fresh = {tuple(i for i, _ in sample_examples(REPLACE, 3, random.Random(s)))
             for s in range(50)}
    assert len(draws) == 2 and draws == again
    assert len(fresh) > 2


def test_items_of_one_set_share_the_prompt_up_to_the_caption() -> None:
    first = sample_examples(REPLACE, 3, random.Random(1), sets=1)
    second = sample_examples(REPLACE, 3, random.Random(2), sets=1)
    a = edit_request(REPLACE, "a dog on a bed", first, max_tokens=64, temperature=0.7)
    b = edit_request(REPLACE, "a cat in a box", second, max_tokens=64, temperature=0.7)
    assert a.messages[:-1] == b.messages[:-1] and a.messages[-1] != b.messages[-1]


def test_example_sets_must_not_be_negative() -> None:
    with pytest.raises(ValueError):
        EditOptions(example_sets=-1)
