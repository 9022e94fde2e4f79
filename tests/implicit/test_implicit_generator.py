"""The ``implicit`` generator on the fake backend: turns, history, parsing, dedup, retries."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from instructgen.backend import LLMRequest
from instructgen.backends.fake import FakeBackend, FakeOptions
from instructgen.errors import UserError
from instructgen.testing import run_recipe

NOUNS = [
    "lamp", "vase", "kettle", "pillow", "bucket", "ladder", "candle", "teapot", "basket",
    "mirror", "violin", "helmet", "anchor", "saddle", "compass", "lantern", "hammock",
    "puzzle", "trumpet", "blanket", "wagon", "feather", "pumpkin", "cactus", "barrel",
    "scooter", "banjo", "chimney", "tractor", "igloo",
]
SEEDS = {
    "sample1": {"original_caption": "an ice cube on a plate", "instuction": "What if it is noon?",
                "target_cation": "a puddle of water on a plate", "key_words": "ice, plate"},
    "sample2": {"original_caption": "a log in a fireplace", "instuction": "What if it is lit?",
                "target_cation": "a burning log in a fireplace", "key_words": "log, fire"},
}


def quad(k: int) -> dict[str, str]:
    """A valid quadruple, unlike every other k (distinct nouns)."""
    a, b = NOUNS[(2 * k) % len(NOUNS)], NOUNS[(2 * k + 1) % len(NOUNS)]
    return {"original_caption": f"a {a} resting beside a {b}",
            "instruction": f"What happens if the {a} gets hit by the {b}?",
            "target_caption": f"a dented {a} under a fallen {b}",
            "keywords": f"{a}, {b}"}


def turn_of(req: LLMRequest) -> int:
    return sum(m.role == "assistant" for m in req.messages)


def seed_of(req: LLMRequest) -> int:
    first_user = next(m.content for m in req.messages if m.role == "user")
    return 0 if "ice cube" in first_user else 1


def distinct(per_turn: int = 2) -> Callable[[LLMRequest], str]:
    """Answers that never repeat across seeds and turns."""

    def answer(req: LLMRequest) -> str:
        base = (seed_of(req) * 20 + turn_of(req) * per_turn) % 15
        return json.dumps([quad(base + i) for i in range(per_turn)])

    return answer


def recipe(tmp_path: Path, seeds: dict[str, Any] | None = None, post: bool = False,
           sink: bool = False, **gen: Any) -> dict[str, Any]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "seeds.json"
    path.write_text(json.dumps(seeds or SEEDS))
    out: dict[str, Any] = {
        "seed": 1,
        "source": {"name": "implicit_seeds", "path": str(path)},
        "generator": {"name": "implicit", "per_turn": 2, "compose": "model", **gen},
        "backend": {"name": "fake"},
    }
    if post:
        out["postprocess"] = [{"name": "implicit_dedup"}]
    if sink:
        out["sink"] = {"name": "anyedit_implicit"}
    return out


def test_conversation_history_carries_earlier_answers(tmp_path: Path) -> None:
    backend = FakeBackend(responder=distinct())
    res = run_recipe(recipe(tmp_path, continue_turns=3), tmp_path, backend=backend)
    reqs = backend.requests
    assert len(reqs) == 2 * 4  # two seeds, first turn + 3 continue turns
    for seed in (0, 1):
        convo = sorted((r for r in reqs if seed_of(r) == seed), key=turn_of)
        assert [turn_of(r) for r in convo] == [0, 1, 2, 3]
        example = "ice cube" if seed == 0 else "log in a fireplace"
        assert example in convo[0].messages[1].content
        assert all(r.schema is not None and r.schema["type"] == "array" for r in convo)
        # Turn t holds every earlier answer, in order, as assistant messages.
        for t, req in enumerate(convo):
            answers = [m.content for m in req.messages if m.role == "assistant"]
            assert answers == [distinct()(convo[u]) for u in range(t)]
            assert [m.role for m in req.messages] == ["system", *["user", "assistant"] * t,
                                                      "user"]
            if t:
                assert req.messages[-1].content.startswith("Continue")
    assert len(res.records) == 2 * 4 * 2
    got = {(r.data["seed_example"], r.data["turn"]) for r in res.records}
    assert got == {(s, t) for s in ("sample1", "sample2") for t in range(4)}
    first = res.records[0].data
    assert first["keywords"] == ["lamp", "vase"] and first["turn"] == 0
    assert res.records[0].id == "sample1#0" and res.records[0].item_id == "sample1"
    assert res.rejections == []


def test_history_turns_keeps_first_turn_and_latest_exchanges(tmp_path: Path) -> None:
    backend = FakeBackend(responder=distinct())
    run_recipe(recipe(tmp_path, continue_turns=3, history_turns=1, themes=[]), tmp_path,
               backend=backend)
    last = max((r for r in backend.requests if "ice cube" in r.messages[1].content),
               key=lambda r: len(r.messages))
    roles = [m.role for m in last.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert "focus on" not in last.messages[-1].content  # themes off


def test_themes_are_seeded(tmp_path: Path) -> None:
    def asks(sub: str) -> list[str]:
        backend = FakeBackend(responder=distinct())
        run_recipe(recipe(tmp_path / sub, continue_turns=3), tmp_path / sub, backend=backend)
        return [r.messages[-1].content for r in backend.requests]

    first, second = asks("a"), asks("b")
    assert first == second
    assert any("focus on" in a for a in first)


def test_duplicates_across_turns_are_rejected(tmp_path: Path) -> None:
    same = json.dumps([quad(3)])
    res = run_recipe(recipe(tmp_path, seeds={"s": SEEDS["sample1"]}, continue_turns=2),
                     tmp_path, backend=FakeBackend(responder=lambda r: same))
    assert [r.data["turn"] for r in res.records] == [0]
    dups = [r for r in res.rejections if r.reason == "near_duplicate"]
    assert [d.data["turn"] for d in dups] == [1, 2]
    assert all(d.plugin == "implicit" and d.item_id == "s" for d in dups)


def test_copy_of_the_seed_example_is_rejected(tmp_path: Path) -> None:
    copy = json.dumps([{"original_caption": "an ice cube on a plate",
                        "instruction": "What if it is noon?",
                        "target_caption": "water on a plate", "keywords": "ice"}, quad(0)])
    res = run_recipe(recipe(tmp_path, seeds={"s": SEEDS["sample1"]}, continue_turns=0),
                     tmp_path, backend=FakeBackend(responder=lambda r: copy))
    assert [r.data["original_caption"] for r in res.records] == [quad(0)["original_caption"]]
    assert [r.reason for r in res.rejections] == ["near_duplicate"]


def test_duplicates_across_seeds_need_implicit_dedup(tmp_path: Path) -> None:
    same = json.dumps([quad(5), quad(6)])
    backend = FakeBackend(responder=lambda r: same)
    without = run_recipe(recipe(tmp_path / "a", continue_turns=0), tmp_path / "a",
                         backend=backend)
    assert len(without.records) == 4
    res = run_recipe(recipe(tmp_path / "b", post=True, continue_turns=0), tmp_path / "b",
                     backend=backend)
    assert [r.item_id for r in res.records] == ["sample1", "sample1"]
    dropped = [r for r in res.rejections if r.plugin == "implicit_dedup"]
    assert len(dropped) == 2 and {d.item_id for d in dropped} == {"sample2"}
    assert all(d.stage == "postprocess" and d.reason == "near_duplicate" for d in dropped)


def test_implicit_dedup_restores_state_on_resume(tmp_path: Path) -> None:
    same = json.dumps([quad(7)])
    rec = recipe(tmp_path, post=True, continue_turns=0)
    rec["output_dir"] = str(tmp_path / "run")
    first = run_recipe({**rec, "limit": 1}, tmp_path, backend=FakeBackend(responder=lambda r: same))
    assert len(first.records) == 1
    second = run_recipe({**rec, "limit": 2}, tmp_path,
                        backend=FakeBackend(responder=lambda r: same))
    assert second.summary.items == 2  # counts carried over: one old item, one new
    assert len(second.records) == 1  # the resumed seed's duplicate was caught
    assert [r.reason for r in second.rejections if r.item_id == "sample2"] == ["near_duplicate"]


def test_content_rejections_are_recorded_with_reasons(tmp_path: Path) -> None:
    answer = json.dumps([
        quad(1),
        {**quad(2), "instruction": "Make the teapot shine."},
        {**quad(3), "target_caption": quad(3)["original_caption"]},
        {**quad(4), "keywords": "a very long keyword phrase"},
        {**quad(5), "original_caption": "  "},  # passes minLength, still empty
    ])
    res = run_recipe(recipe(tmp_path, seeds={"s": SEEDS["sample1"]}, continue_turns=0,
                            per_turn=5),
                     tmp_path, backend=FakeBackend(responder=lambda r: answer))
    assert len(res.records) == 1
    assert [r.reason for r in res.rejections] == [
        "explicit_instruction", "target_same_as_original", "bad_keywords", "empty_field"]
    assert res.rejections[0].data["instruction"] == "Make the teapot shine."
    assert res.rejections[0].data["index"] == 1
    assert res.summary.rejection_reasons["bad_keywords"] == 1


def test_non_array_answer_is_retried_then_rejected_with_raw(tmp_path: Path) -> None:
    obj = json.dumps(quad(1))  # an object, not an array
    backend = FakeBackend(responder=lambda r: obj)
    rec = {**recipe(tmp_path, seeds={"s": SEEDS["sample1"]}), "max_retries": 2}
    res = run_recipe(rec, tmp_path, backend=backend)
    assert len(backend.requests) == 3  # first try + 2 retries, then the seed fails
    assert len({r.seed for r in backend.requests}) == 3  # each retry reseeded
    assert res.records == []
    (rej,) = res.rejections
    assert rej.reason == "invalid_output" and rej.raw == obj and "expected array" in rej.detail
    assert res.summary.invalid_answers == 3


def test_retry_that_succeeds_keeps_the_records(tmp_path: Path) -> None:
    backend = FakeBackend(FakeOptions(answers=["not json", json.dumps([quad(1)])]))
    res = run_recipe(recipe(tmp_path, seeds={"s": SEEDS["sample1"]}, continue_turns=0),
                     tmp_path, backend=backend)
    assert len(res.records) == 1 and res.summary.invalid_answers == 1
    assert res.rejections == []


def test_bad_later_turn_keeps_earlier_records(tmp_path: Path) -> None:
    def answer(req: LLMRequest) -> str:
        return json.dumps([quad(turn_of(req))]) if turn_of(req) < 2 else '{"oops": 1}'

    rec = {**recipe(tmp_path, seeds={"s": SEEDS["sample1"]}, continue_turns=3),
           "max_retries": 1}
    backend = FakeBackend(responder=answer)
    res = run_recipe(rec, tmp_path, backend=backend)
    assert [r.data["turn"] for r in res.records] == [0, 1]
    (rej,) = res.rejections
    assert rej.reason == "invalid_output" and rej.raw == '{"oops": 1}'
    assert rej.data == {"seed_example": "s", "turn": 2} and "conversation stopped" in rej.detail
    assert len(backend.requests) == 2 + 2  # turn 3 is never asked


def test_anyedit_implicit_sink_writes_correct_keys(tmp_path: Path) -> None:
    res = run_recipe(recipe(tmp_path, sink=True, continue_turns=1), tmp_path,
                     backend=FakeBackend(responder=distinct()))
    lines = [json.loads(x) for x in
             (res.run_dir / "implicit_anyedit.jsonl").read_text().splitlines()]
    assert len(lines) == len(res.records) == 8
    keys = {"original_caption", "instruction", "target_caption", "key_words"}
    assert all(set(line) == {"id", *keys} for line in lines)
    assert lines[0]["key_words"] == "lamp, vase"
    assert lines[0]["instruction"] == res.records[0].data["instruction"]
    samples = json.loads((res.run_dir / "implicit_samples.json").read_text())
    assert list(samples) == [f"sample{i}" for i in range(1, 9)]
    assert all(set(s) == keys for s in samples.values())
    assert samples["sample8"]["target_caption"] == res.records[-1].data["target_caption"]


def test_anyedit_implicit_sink_list_keywords_and_no_samples_file(tmp_path: Path) -> None:
    rec = recipe(tmp_path, continue_turns=0)
    rec["sink"] = {"name": "anyedit_implicit", "key_words": "list", "samples_file": ""}
    res = run_recipe(rec, tmp_path, backend=FakeBackend(responder=distinct()))
    line = json.loads((res.run_dir / "implicit_anyedit.jsonl").read_text().splitlines()[0])
    assert line["key_words"] == ["lamp", "vase"]
    assert not (res.run_dir / "implicit_samples.json").exists()


def test_anyedit_implicit_sink_refuses_other_records() -> None:
    from instructgen.plugins.anyedit.implicit_sink import (
        AnyEditImplicitOptions,
        AnyEditImplicitSink,
    )
    from instructgen.records import OutputRecord

    sink = AnyEditImplicitSink(AnyEditImplicitOptions())
    with pytest.raises(UserError, match="record 'x' has no 'instruction'"):
        sink.encode(OutputRecord(id="x", item_id="x", generator="c2cap",
                                 data={"original_caption": "a"}))


def test_bad_options_are_recipe_errors(tmp_path: Path) -> None:
    from instructgen.errors import RecipeError

    with pytest.raises(RecipeError, match=r"generator\.continue_turns"):
        run_recipe(recipe(tmp_path, continue_turns="3"), tmp_path, backend=FakeBackend())
    with pytest.raises(RecipeError, match="per_turn"):
        run_recipe(recipe(tmp_path, per_turn=0), tmp_path, backend=FakeBackend())


def test_bad_seed_file_fails_before_the_run(tmp_path: Path) -> None:
    bad = {"sample1": {k: v for k, v in SEEDS["sample1"].items() if k != "instuction"}}
    with pytest.raises(UserError, match=r"sample 'sample1': missing field 'instruction'"):
        run_recipe(recipe(tmp_path, seeds=bad), tmp_path, backend=FakeBackend())
    assert not (tmp_path / "run").exists()
