"""The transformers backend's first-token log-probabilities (the edit judge's ``score`` mode).

Model tests use the embedded SmolLM2-135M GGUF through both backends (the
``llamacpp_backend`` and ``transformers_backend`` fixtures of conftest.py):
transformers dequantizes the Q4_1 weights to float32 while llama.cpp computes
on the quantized ones, so the probabilities differ a little; the winning label
must not. Over the judge's whole labelled set (51 cases) the largest
difference of P(yes) measured 0.070.
"""

from __future__ import annotations

import math

import pytest

from instructgen.backend import FirstTokenScorer, LLMRequest
from instructgen.backends.hf import TransformersBackend
from instructgen.errors import ContextOverflowError
from instructgen.manager import make_registry
from instructgen.plugins.edits.judge_eval import labelled_set
from instructgen.plugins.edits.prompts import YES_NO, judge_request
from instructgen.plugins.edits.types import get_edit_types

#: Largest |P_transformers(yes) - P_llamacpp(yes)| allowed (0.070 measured, see above).
TOLERANCE = 0.1


def _judge_requests() -> list[LLMRequest]:
    """Judge questions whose answers lean clearly one way on the embedded model.

    tone_transfer's good and unchanged-output cases lean yes (P(yes) about 0.8
    on llama.cpp), color_alter's lean no (about 0.4 and 0.35).
    """
    types = get_edit_types(make_registry())
    cases = [c for name in ("tone_transfer", "color_alter")
             for c in labelled_set([types[name]], per_type=1)
             if c.kind in ("good", "unchanged_output")]
    return [judge_request(c.etype, c.caption, c.result, mode="text", temperature=0.0)
            for c in cases]


def test_the_transformers_backend_is_a_first_token_scorer():
    assert issubclass(TransformersBackend, FirstTokenScorer)


@pytest.mark.model
def test_log_probabilities_cover_the_labels_and_sum_to_one(transformers_backend):
    request = _judge_requests()[0]
    logp = transformers_backend.first_token_logprobs(request, YES_NO)
    assert set(logp) == {"yes", "no"}
    assert all(v <= 0.0 for v in logp.values())
    assert math.isclose(sum(math.exp(v) for v in logp.values()), 1.0, rel_tol=1e-9)
    # "yes." starts with the token of "yes": a first token counts once per label.
    same = transformers_backend.first_token_logprobs(
        request, {"yes": ("yes", "Yes", "yes."), "no": ("no", "No")})
    assert same == pytest.approx(logp, abs=1e-12)
    # Three labels: still normalised over the labels, and "maybe" takes mass from both.
    three = transformers_backend.first_token_logprobs(request, {**YES_NO, "maybe": ("maybe",)})
    assert math.isclose(sum(math.exp(v) for v in three.values()), 1.0, rel_tol=1e-9)
    assert three["yes"] < logp["yes"] and three["no"] < logp["no"]


@pytest.mark.model
@pytest.mark.slow
def test_transformers_and_llamacpp_agree_on_the_judges_answer(
    transformers_backend, llamacpp_backend
):
    diffs, winners = [], []
    for request in _judge_requests():
        p_hf = math.exp(transformers_backend.first_token_logprobs(request, YES_NO)["yes"])
        p_lc = math.exp(llamacpp_backend.first_token_logprobs(request, YES_NO)["yes"])
        diffs.append(abs(p_hf - p_lc))
        winners.append((p_hf >= 0.5, p_lc >= 0.5))
    print(f"max |P(yes) transformers - P(yes) llamacpp| = {max(diffs):.4f} "
          f"over {len(diffs)} judge requests")
    assert all(hf == lc for hf, lc in winners), winners
    assert {lc for _, lc in winners} == {True, False}  # both answers are exercised
    assert max(diffs) < TOLERANCE


@pytest.mark.model
def test_a_prompt_over_the_context_window_is_refused_before_the_model_runs(
    transformers_backend, context_size
):
    long = LLMRequest(messages=[("user", "word " * (context_size + 10))], max_tokens=1)
    with pytest.raises(ContextOverflowError, match=f"n_ctx={context_size}"):
        transformers_backend.first_token_logprobs(long, YES_NO)


@pytest.mark.model
def test_a_label_text_without_tokens_is_refused_by_name(transformers_backend):
    with pytest.raises(ValueError, match="label 'yes' has a text that is no token"):
        transformers_backend.first_token_logprobs(
            _judge_requests()[0], {"yes": ("",), "no": ("no",)})
