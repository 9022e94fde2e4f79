"""The reference's concept curation (issue 28 point 9): each filter, and its reasons."""

from __future__ import annotations

import json

import pytest

from instructgen.cli import main
from instructgen.plugins.concepts.pool import ConceptPool
from instructgen.plugins.concepts.tools import curate_pool, not_a_noun, proper_noun
from instructgen.plugins.sense import dictionary_available

BGS = ["a park", "a beach", "a street", "a kitchen", "a forest", "a desert"]


def _pool(entries: dict[str, list[str]]) -> ConceptPool:
    pool = ConceptPool()
    for name, backgrounds in entries.items():
        pool.add(name, backgrounds, ["test.json"])
    return pool


def test_models_and_capitalised_names_are_dropped_with_a_reason():
    lexicon = {"motor": 50_000, "winter": 40_000, "bird": 60_000}
    assert "digit" in proper_noun("Boeing 747 airplane", lexicon)
    assert "'Ford'" in proper_noun("Ford Motor", lexicon)
    assert "'Wren'" in proper_noun("Winter Wren bird", lexicon)
    assert proper_noun("teapot", lexicon) is None
    assert proper_noun("Motor", lexicon) is None  # an ordinary word written with a capital


def test_the_head_word_must_be_able_to_be_a_noun():
    lexicon = {"teapot": 100, "happily": 100, "beautiful": 100}
    assert not_a_noun("red teapot", lexicon) is None
    assert "adjective or adverb" in not_a_noun("happily", lexicon)
    assert "function word" in not_a_noun("the", lexicon)
    assert "not in the English word list" in not_a_noun("xqzzy", lexicon)
    assert not_a_noun("teapots", lexicon) is None  # a plural of a listed noun


def test_fine_grained_classes_collapse_into_their_category():
    pool = _pool({"golden retriever": BGS[:3], "labrador retriever": BGS[3:],
                  "retriever": [], "teapot": BGS, "red car": BGS})
    out, report = curate_pool(pool, proper_nouns=False, nouns=False, min_backgrounds=0)
    assert [c.name for c in out] == ["retriever", "teapot", "red car"]
    retriever = out.get("retriever")
    assert retriever.notes["collapsed_from"] == ["golden retriever", "labrador retriever"]
    assert len(retriever.backgrounds) == 6
    assert ("retriever", "golden retriever") in report.collapsed


def test_at_least_five_backgrounds_by_default_and_every_drop_reported():
    pool = _pool({"teapot": BGS, "kettle": BGS[:2]})
    out, report = curate_pool(pool, nouns=False, proper_nouns=False)
    assert [c.name for c in out] == ["teapot"]
    (dropped,) = report.dropped
    assert (dropped.name, dropped.filter) == ("kettle", "min_backgrounds")
    assert "2 background(s), fewer than 5" in dropped.reason


@pytest.mark.skipif(not dictionary_available(),
                    reason="pyspellchecker (extra 'sense') is not installed")
def test_curate_command_writes_the_pool_and_every_drop(tmp_path, capsys):
    src = tmp_path / "pool.json"
    src.write_text(json.dumps({"concepts": ["teapot", "Ford Mustang", "happily",
                                            "golden retriever", "labrador retriever"],
                               "backgrounds": BGS}))
    out = tmp_path / "curated.json"
    assert main(["concepts", "curate", str(src), "-o", str(out)]) == 0
    assert "dropped: noun_only 1, proper_noun 1" in capsys.readouterr().out
    kept = [c["name"] for c in json.loads(out.read_text())["concepts"]]
    assert kept == ["teapot", "retriever"]
    dropped = [json.loads(x) for x in (tmp_path / "curated.dropped.jsonl").read_text()
               .splitlines()]
    assert {(d["concept"], d["filter"]) for d in dropped} == {
        ("Ford Mustang", "proper_noun"), ("happily", "noun_only")}
    assert main(["concepts", "curate", str(src), "-o", str(out),
                 "--min-backgrounds", "-1"]) == 2
