"""Rule-based lemmas and article handling."""

from __future__ import annotations

import pytest

from instructgen.plugins.concepts.phrases import (
    indefinite,
    lemma_key,
    looks_plural,
    singular,
    strip_article,
)


@pytest.mark.parametrize(("word", "expected"), [
    ("dogs", "dog"), ("boxes", "box"), ("benches", "bench"), ("cities", "city"),
    ("houses", "house"), ("glasses", "glass"), ("bus", "bus"), ("children", "child"),
    ("knives", "knife"), ("firemen", "fireman"), ("grass", "grass"), ("tomatoes", "tomato"),
])
def test_singular(word, expected):
    assert singular(word) == expected


def test_lemma_key_ignores_case_articles_punctuation_and_number():
    assert lemma_key("The Snowy Fields!") == lemma_key("a snowy field") == "snowy field"
    assert lemma_key("bus stops") != lemma_key("bus stop area")


def test_articles():
    assert strip_article("The beach") == "beach"
    assert strip_article("a") == ""
    assert strip_article("theater") == "theater"
    assert indefinite("the orchard") == "an orchard"
    assert indefinite("snowy field") == "a snowy field"
    assert indefinite("mountains") == "mountains"
    assert looks_plural("rocky hills") and not looks_plural("rocky hill")
