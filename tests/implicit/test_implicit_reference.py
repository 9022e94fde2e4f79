"""Implicit records in AnyEdit's shape, and the reference's own seed styles (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instructgen.backends.fake import FakeBackend
from instructgen.plugins.anyedit.contract import COMMON_KEYS
from instructgen.plugins.implicit.checks import (
    QuadrupleRules,
    check_quadruple,
    instruction_style,
)
from instructgen.plugins.implicit.seeds import ImplicitSeedsOptions, ImplicitSeedsSource
from instructgen.testing import run_recipe

# The reference's define_samples.json shape (misspelled keys), with its instruction styles:
# what-if questions, a "Let ...?" what-if and a plain event ("a car accident occurs.").
REFERENCE_SEEDS = {
    "sample0": {"original_caption": "an egg on the edge of a table",
                "instuction": "What will happen if the egg falls?",
                "target_cation": "a broken egg on the floor", "key_words": "egg, floor"},
    "sample7": {"original_caption": "an apple on a fence post",
                "instuction": "Let the arrow reach the apple?",
                "target_cation": "an apple pierced by an arrow on a fence post",
                "key_words": "apple, arrow"},
    "sample9": {"original_caption": "two cars at a crossroads",
                "instuction": "a car accident occurs.",
                "target_cation": "two dented cars with broken glass at a crossroads",
                "key_words": "car, glass"},
}


def test_reference_seeds_are_read_and_their_styles_accepted(tmp_path: Path) -> None:
    path = tmp_path / "define_samples.json"
    path.write_text(json.dumps(REFERENCE_SEEDS))
    items = list(ImplicitSeedsSource(ImplicitSeedsOptions(path=path)))
    assert [i.id for i in items] == list(REFERENCE_SEEDS)
    for item in items:
        quad = check_quadruple(item.data, QuadrupleRules())
        assert quad["instruction"] == item.data["instruction"]
    assert instruction_style("a car accident occurs.") == "event"
    assert instruction_style("Let the arrow reach the apple?") == "question"


@pytest.mark.parametrize("text", ["The glass lies in a puddle.", "Make the egg fall."])
def test_states_and_explicit_edits_are_still_refused(text: str) -> None:
    assert instruction_style(text) in ("statement", "explicit")


def test_implicit_records_carry_implicit_change_through_the_anyedit_sink(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.json"
    seeds.write_text(json.dumps({"sample9": REFERENCE_SEEDS["sample9"]}))
    answer = [{"original_caption": "a candle next to a curtain",
               "instruction": "What happens if the candle tips over?",
               "target_caption": "a curtain on fire next to a fallen candle",
               "keywords": "candle, curtain"}]
    res = run_recipe({"seed": 1, "source": {"name": "implicit_seeds", "path": str(seeds)},
                      "generator": {"name": "implicit", "per_turn": 1, "continue_turns": 0,
                                    "compose": "model"},
                      "backend": {"name": "fake"}, "sink": {"name": "anyedit"}},
                     tmp_path, backend=FakeBackend(responder=lambda r: json.dumps(answer)))
    (rec,) = res.records
    assert rec.data["edit_type"] == "implicit_change"
    (line,) = (res.run_dir / "anyedit.jsonl").read_text().splitlines()
    obj = json.loads(line)
    assert all(k in obj for k in COMMON_KEYS)
    assert obj["edit_type"] == "implicit_change"
    assert (obj["edit"], obj["input"], obj["output"]) == (
        answer[0]["instruction"], answer[0]["original_caption"], answer[0]["target_caption"])
    assert obj["image_file"] is None and obj["edited_file"].endswith(".jpg")
