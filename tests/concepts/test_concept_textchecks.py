"""The generic post-processors: cleanup, word limit, coverage, dedup."""

from __future__ import annotations

import pytest

from instructgen.errors import Reject
from instructgen.plugins.textchecks import (
    CaptionCleanup,
    CleanupOptions,
    ConceptCoverage,
    CoverageOptions,
    Dedup,
    DedupOptions,
    WordLimit,
    WordLimitOptions,
)
from instructgen.records import OutputRecord
from instructgen.text import clean_caption


def rec(**data) -> OutputRecord:
    return OutputRecord(id="x", item_id="x", generator="test", data=data)


@pytest.mark.parametrize(("raw", "clean"), [
    ('"A dog on a sofa."', "A dog on a sofa."),
    ("1. A dog on a sofa. (6 words)", "A dog on a sofa."),
    ("- Caption: “A dog on a sofa.”", "A dog on a sofa."),
    ("* 'A dog on a sofa' [6 words]", "A dog on a sofa"),
    ("A dog on a sofa. - 6 words", "A dog on a sofa."),
    ("  A   dog\non a sofa. ", "A dog on a sofa."),
    ("A dog with 3 legs.", "A dog with 3 legs."),
])
def test_clean_caption(raw, clean):
    assert clean_caption(raw) == clean


def test_cleanup_rewrites_and_rejects_empty():
    pp = CaptionCleanup(CleanupOptions())
    assert pp.process(rec(caption='"a dog."')).data["caption"] == "A dog."
    with pytest.raises(Reject) as err:
        pp.process(rec(caption='"" (0 words)'))
    assert err.value.reason == "empty_text"
    with pytest.raises(Reject) as err:
        pp.process(rec(text="a dog"))
    assert err.value.reason == "missing_field" and "text" in err.value.detail


def test_word_limit():
    pp = WordLimit(WordLimitOptions(max_words=4, min_words=2))
    assert pp.process(rec(caption="A dog sleeps.")).data["caption"] == "A dog sleeps."
    with pytest.raises(Reject) as err:
        pp.process(rec(caption="A dog sleeps on the sofa."))
    assert (err.value.reason, err.value.detail) == ("too_long", "6 words > max_words 4")
    with pytest.raises(Reject, match="too_short"):
        pp.process(rec(caption="Dog."))
    with pytest.raises(ValueError, match="min_words"):
        WordLimitOptions(max_words=2, min_words=3)


def test_concept_coverage_whole_words_and_plurals():
    pp = ConceptCoverage(CoverageOptions())
    pp.process(rec(caption="Two dogs by a red bus.", concepts=["dog", "red bus"]))
    pp.process(rec(caption="A cat asleep.", concept="cat"))
    with pytest.raises(Reject) as err:
        pp.process(rec(caption="A catalog on a table.", concept="cat"))
    assert err.value.reason == "missing_concept" and "'cat'" in err.value.detail
    with pytest.raises(Reject, match="missing_field"):
        pp.process(rec(caption="A cat."))


def test_dedup_exact_near_and_restore():
    pp = Dedup(DedupOptions(near_threshold=0.9))
    pp.process(rec(caption="A brown dog sleeping on a green sofa."))
    with pytest.raises(Reject) as err:
        pp.process(rec(caption="a brown dog sleeping on a green sofa"))
    assert err.value.reason == "duplicate"
    with pytest.raises(Reject) as err:
        pp.process(rec(caption="A brown dog sleeping on a green sofas."))
    assert err.value.reason == "near_duplicate" and "threshold 0.9" in err.value.detail
    pp.process(rec(caption="A cat chasing a ball in the garden."))

    resumed = Dedup(DedupOptions(near_threshold=1.0))
    resumed.restore([rec(caption="A cat in the garden.")])
    with pytest.raises(Reject, match="duplicate"):
        resumed.process(rec(caption="A cat in the garden."))
    # Exact-only mode keeps near-duplicates.
    resumed.process(rec(caption="A cat in the gardens."))


def test_dedup_threshold_validated():
    with pytest.raises(ValueError, match="near_threshold"):
        DedupOptions(near_threshold=0)


def test_dedup_memory_survives_a_resumed_run(pool_file, run_recipe, fake_backend):
    path = pool_file(["red bus", "cat", "bus"])
    spec = {"source": {"name": "concept_pool", "path": str(path)},
            "generator": {"name": "c2cap", "compose": "model"}, "backend": {"name": "fake"},
            "postprocess": [{"name": "dedup", "near_threshold": 1.0}]}
    respond = fake_backend(responder=lambda r: '{"caption": "A red bus next to a cat."}')
    first = run_recipe({**spec, "limit": 1}, backend=respond)
    assert [r.item_id for r in first.records] == ["red bus"]
    resumed = run_recipe({**spec, "limit": 3}, backend=respond)
    assert [r.item_id for r in resumed.records] == ["red bus"]
    assert [(r.item_id, r.reason) for r in resumed.rejections] == [
        ("cat", "duplicate"), ("bus", "duplicate")]
