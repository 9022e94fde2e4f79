"""Content rules of one quadruple: keywords, implicit phrasing, lengths, sameness."""

from __future__ import annotations

import pytest

from instructgen.errors import Reject
from instructgen.plugins.implicit.checks import (
    QuadrupleRules,
    check_quadruple,
    instruction_style,
    split_keywords,
)

GOOD = {"original_caption": "a glass of juice on a table",
        "instruction": "What happens if the glass tips over?",
        "target_caption": "spilled orange juice around a glass lying on a table",
        "keywords": "Glass, juice; the table"}


@pytest.mark.parametrize(("value", "expected"), [
    ("egg, floor", ["egg", "floor"]),
    ("an egg; the Floor / pan", ["egg", "floor", "pan"]),
    ("salt and pepper", ["salt", "pepper"]),
    ("ice cream, ice cream,", ["ice cream"]),
    ("shoes, shoe, ice, ice cream, Leaves, leaf", ["shoes", "ice", "ice cream", "leaves"]),
    (["A Kite", " grass "], ["kite", "grass"]),
    ("", []),
])
def test_split_keywords(value: object, expected: list[str]) -> None:
    assert split_keywords(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "style"), [
    ("What happens if the egg falls?", "question"),
    ("How would the garden look after a storm", "question"),
    ("The bread is left out, what now?", "question"),
    ("After a week without water, the plant", "cause"),
    ("The ice cream sits in the sun until noon.", "cause"),
    ("Imagine the river freezing overnight.", "cause"),
    ("Make the apple rotten.", "explicit"),
    ("Turn the sky orange?", "explicit"),
    ("Replace the cat with a dog", "explicit"),
    ("A red apple on a table.", "statement"),
    ("Discovered the car covered in snow.", "statement"),  # "covered" is not "cover"
    ("", "statement"),
])
def test_instruction_style(text: str, style: str) -> None:
    assert instruction_style(text) == style


def _reason(changes: dict[str, object], **rules: object) -> str:
    with pytest.raises(Reject) as info:
        check_quadruple({**GOOD, **changes}, QuadrupleRules(**rules))  # type: ignore[arg-type]
    return info.value.reason


def test_good_quadruple_is_cleaned() -> None:
    quad = check_quadruple({**GOOD, "instruction": "  What happens if\nthe glass tips over? "},
                           QuadrupleRules())
    assert quad["instruction"] == "What happens if the glass tips over?"
    assert quad["keywords"] == ["glass", "juice", "table"]
    assert set(quad) == {"original_caption", "instruction", "target_caption", "keywords"}


@pytest.mark.parametrize(("changes", "rules", "reason"), [
    ({"original_caption": " "}, {}, "empty_field"),
    ({"instruction": None}, {}, "empty_field"),
    ({"keywords": ", ,"}, {}, "empty_field"),
    ({"keywords": 7}, {}, "empty_field"),
    ({"target_caption": "A glass of juice, on a table!"}, {}, "target_same_as_original"),
    ({"original_caption": "word " * 21}, {}, "too_long"),
    ({"target_caption": "a b c d e f"}, {"max_words": 5}, "too_long"),
    ({"instruction": "What " + "very " * 30 + "odd?"}, {}, "too_long"),
    ({"keywords": "big red wooden table"}, {}, "bad_keywords"),
    ({"target_caption": "a " + "x" * 198}, {}, "truncated"),  # 200 chars: the schema cap
    ({"keywords": "cup, jar, lid"}, {"max_keywords": 2}, "bad_keywords"),
    ({"instruction": "Make the juice spill."}, {}, "explicit_instruction"),
    ({"instruction": "The glass lies in a puddle."}, {}, "not_implicit"),
])
def test_rejections(changes: dict[str, object], rules: dict[str, object], reason: str) -> None:
    assert _reason(changes, **rules) == reason


def test_allow_statements() -> None:
    quad = check_quadruple({**GOOD, "instruction": "The glass is knocked by a dog."},
                           QuadrupleRules(allow_statements=True))
    assert quad["instruction"] == "The glass is knocked by a dog."
    assert _reason({"instruction": "Make it spill."}, allow_statements=True) == \
        "explicit_instruction"


def test_keyword_list_answer() -> None:
    quad = check_quadruple({**GOOD, "keywords": ["Glass", 3, "ice cream"]}, QuadrupleRules())
    assert quad["keywords"] == ["glass", "ice cream"]


@pytest.mark.parametrize(("field", "text", "reason"), [
    ("original_caption", "a glass glass of juice on a table", "repeated_phrase"),
    ("target_caption", "spilled juice, a glass, a table, spilled juice, a glass, a table",
     "repeated_ngram"),
    ("target_caption", "spilled juice around a glass lying on the", "dangling_word"),
    ("original_caption", "a glаss of juice on a table", "non_ascii"),
    ("instruction", "What happens if the glass tipsOver?", "glued_word"),
    ("original_caption", "a glass-shaped glass of juice", "self_modifier"),
])
def test_sense_problems_are_named_rejections(field: str, text: str, reason: str) -> None:
    with pytest.raises(Reject) as exc:
        check_quadruple({**GOOD, field: text}, QuadrupleRules())
    assert exc.value.reason == reason and exc.value.detail.startswith(f"{field}: ")


def test_a_fluent_quadruple_passes_the_sense_checks() -> None:
    two = {**GOOD, "instruction": "The glass tips over. What is left on the table?"}
    assert check_quadruple(two, QuadrupleRules())["instruction"] == two["instruction"]


def test_a_non_word_is_refused_when_the_word_list_is_installed() -> None:
    from instructgen.plugins.sense import dictionary_available

    if not dictionary_available():
        pytest.skip("pyspellchecker is not installed (pip install 'instructgen[sense]')")
    with pytest.raises(Reject, match="non_word"):
        check_quadruple({**GOOD, "target_caption": "spilled jooce around a glass"},
                        QuadrupleRules())
