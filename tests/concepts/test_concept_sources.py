"""The concept_pool and concept_pairs sources."""

from __future__ import annotations

import itertools
import time

import pytest

from instructgen.errors import UserError
from instructgen.plugins.concepts.sources import (
    ConceptPairsOptions,
    ConceptPairsSource,
    ConceptPoolOptions,
    ConceptPoolSource,
    unrank_pair,
)


def test_pool_items_carry_concept_backgrounds_and_provenance(pool_file):
    path = pool_file({"dog": ["park"], "cat": []})
    source = ConceptPoolSource(ConceptPoolOptions(path=path, shape="concept_backgrounds"))
    items = list(source)
    assert [i.id for i in items] == ["dog", "cat"]
    assert items[0].data["concepts"] == ["dog"]
    assert items[0].data["backgrounds"] == ["park"]
    assert items[0].data["sources"] == [str(path)]
    assert source.total() == 2


def test_min_backgrounds_skips_and_counts(pool_file):
    path = pool_file({"dog": ["park"], "cat": [], "owl": ["barn", "tree"]})
    source = ConceptPoolSource(ConceptPoolOptions(path=path, min_backgrounds=1,
                                                  shape="concept_backgrounds"))
    assert [i.id for i in source] == ["dog", "owl"]
    assert source.total() == 2
    assert source.stats()["skipped_few_backgrounds"] == 1


def test_pool_needs_a_path():
    with pytest.raises(ValueError, match="path"):
        ConceptPoolOptions()


@pytest.mark.parametrize("n", [2, 3, 7, 40])
def test_unrank_is_row_major(n):
    expected = list(itertools.combinations(range(n), 2))
    assert [unrank_pair(k, n) for k in range(len(expected))] == expected


def test_all_pairs_are_unordered_and_unique(pool_file):
    names = [f"thing{i}" for i in range(9)]
    source = ConceptPairsSource(ConceptPairsOptions(path=pool_file(names)))
    items = list(source)
    assert len(items) == 9 * 8 // 2 == source.total()
    pairs = [frozenset(i.data["concepts"]) for i in items]
    assert len(set(pairs)) == len(pairs)
    assert all(len(p) == 2 for p in pairs)
    assert items[0].id == "thing0|thing1"


def test_sampled_pairs_are_seeded_and_distinct(pool_file):
    path = pool_file([f"thing{i}" for i in range(30)])

    def ids(seed):
        return [i.id for i in ConceptPairsSource(ConceptPairsOptions(path=path, pairs=100,
                                                                     seed=seed))]

    first = ids(1)
    assert len(first) == 100 == len(set(first))
    assert first == ids(1)
    assert first != ids(2)
    assert all({*i.split("|")}.__len__() == 2 for i in first)


def test_pairs_stream_without_building_the_list(pool_file):
    # 6000 concepts: 18 million pairs; the first items must come at once.
    path = pool_file([f"thing{i}" for i in range(6000)])
    source = ConceptPairsSource(ConceptPairsOptions(path=path))
    assert source.total() == 6000 * 5999 // 2
    start = time.perf_counter()
    first = list(itertools.islice(source, 5))
    assert time.perf_counter() - start < 1.0
    assert [i.id for i in first][-1] == "thing0|thing5"
    sampled = ConceptPairsSource(ConceptPairsOptions(path=path, pairs=1000, seed=3))
    assert len({i.id for i in sampled}) == 1000


def test_pair_backgrounds_fall_back_to_the_pool(pool_file):
    path = pool_file({"dog": ["park"], "cat": ["sofa"], "owl": []})
    opts = ConceptPairsOptions(path=path, shape="concept_backgrounds")
    items = {i.id: i.data for i in ConceptPairsSource(opts)}
    assert items["dog|cat"]["backgrounds"] == ["park", "sofa"]
    assert items["dog|owl"]["backgrounds"] == ["park"]
    path = pool_file({"concepts": ["dog", "owl"], "backgrounds": ["beach"]}, "shared.json")
    (item,) = ConceptPairsSource(ConceptPairsOptions(path=path))
    assert item.data["backgrounds"] == ["beach"]
    assert item.data["backgrounds_from"] == "pool"


def test_fewer_than_two_concepts_is_a_clear_error(pool_file):
    path = pool_file(["dog", "Dog"])
    with pytest.raises(UserError, match="at least 2 distinct concepts, found 1"):
        ConceptPairsSource(ConceptPairsOptions(path=path))
