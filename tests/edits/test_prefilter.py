"""The prefilter's word-list fallback (spaCy is optional)."""

from __future__ import annotations

import pytest

from instructgen.plugins.edits.prefilter import HEURISTIC_SKIPS, HeuristicAnalyzer, make_analyzer


@pytest.mark.parametrize(
    ("caption", "need", "has"),
    [
        ("A dog running in a park.", "verb", True),
        ("A bird perched on a branch.", "verb", True),
        ("A man sits on a bench.", "verb", True),
        ("A tall building next to a red car.", "verb", False),
        ("A bowl of soup on a table.", "verb", False),
        ("The ceiling of a large room.", "noun", True),
        ("The very big and red one.", "noun", False),
        ('A sign that says "OPEN".', "quoted_text", True),
        ("A sign that says “Fresh Bread”.", "quoted_text", True),
        ("A sign on a wall.", "quoted_text", False),
        ('A sign that says "".', "quoted_text", False),
    ],
)
def test_heuristic_analyzer(caption, need, has):
    assert HeuristicAnalyzer().has(caption, need) is has


def test_modes():
    assert make_analyzer("off") is None
    assert make_analyzer("heuristic").method == "heuristic"
    assert HeuristicAnalyzer.skips == HEURISTIC_SKIPS == ("pos_tagging",)
    assert make_analyzer("auto").method in ("spacy", "heuristic")
