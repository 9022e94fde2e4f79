"""The implicit record's shape is its payload class: keys in declared order, ``theme``
only when set, and the plan declares ``theme`` only when the options can write it."""

from __future__ import annotations

import json

from instructgen.plugins.implicit import implicit_keys
from instructgen.plugins.implicit.generator import ImplicitOptions
from instructgen.plugins.implicit.payloads import Quadruple

QUAD = {"original_caption": "A glass of milk on a table.",
        "instruction": "What happens if the cat knocks it over?",
        "target_caption": "Spilled milk and broken glass on the floor.",
        "keywords": ["glass", "milk", "floor"]}
ALWAYS = {"edit_type", "original_caption", "instruction", "target_caption", "keywords",
          "seed_example", "turn"}


def test_payload_writes_declared_order_and_leaves_unset_theme_out() -> None:
    first = Quadruple(**QUAD, seed_example="sample1", turn=0).payload()
    assert list(first) == ["edit_type", "original_caption", "instruction", "target_caption",
                           "keywords", "seed_example", "turn"]
    assert first["edit_type"] == "implicit_change"
    later = Quadruple(**QUAD, seed_example="sample1", turn=2, theme="weather").payload()
    assert list(later)[-1] == "theme"
    assert json.dumps(later).endswith('"turn": 2, "theme": "weather"}')


def test_theme_is_declared_only_when_a_continue_turn_can_draw_one() -> None:
    themed = implicit_keys(ImplicitOptions(continue_turns=2), None)
    assert themed.always == ALWAYS and themed.may == {"theme"}
    for options in (ImplicitOptions(continue_turns=0), ImplicitOptions(themes=[])):
        keys = implicit_keys(options, None)
        assert keys.always == ALWAYS and keys.may == frozenset()
