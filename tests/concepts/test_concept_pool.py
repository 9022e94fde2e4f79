"""Reading concept pools in every shape, with provenance and clear errors."""

from __future__ import annotations

import json

import pytest

from instructgen.errors import UserError
from instructgen.plugins.concepts.pool import ConceptPool, PoolError, load_pool


def test_list_of_names(pool_file):
    path = pool_file(["dog", "cat", "red bus"])
    pool = load_pool([path])
    assert [c.name for c in pool] == ["dog", "cat", "red bus"]
    assert all(c.sources == [str(path)] for c in pool)
    assert all(c.backgrounds == [] for c in pool)


def test_text_file_one_name_per_line(pool_file):
    path = pool_file("dog\n\n  cat  \n# a comment\nred bus\n", "names.txt")
    assert [c.name for c in load_pool([path])] == ["dog", "cat", "red bus"]


def test_concepts_with_shared_backgrounds(pool_file):
    path = pool_file({"concepts": ["dog", "cat"], "backgrounds": ["park", "sofa", "park"]})
    pool = load_pool([path])
    assert pool.shared_backgrounds == ["park", "sofa"]
    dog = pool.get("dog")
    assert dog is not None
    assert pool.backgrounds_for(dog) == (["park", "sofa"], "pool")


def test_concept_to_backgrounds_dict(pool_file):
    path = pool_file({"dog": ["park", "beach"], "cat": []})
    pool = load_pool([path], shape="concept_backgrounds")
    assert pool.get("dog").backgrounds == ["park", "beach"]
    assert pool.backgrounds_for(pool.get("cat")) == ([], "none")


def test_c2b_output_reads_back_native_and_flat(pool_file):
    native = {"id": "dog", "item_id": "dog", "generator": "c2b",
              "data": {"concept": "dog", "backgrounds": ["park"], "sources": ["orig.json"]}}
    flat = {"id": "cat", "concept": "cat", "backgrounds": ["sofa", "garden"]}
    path = pool_file("\n".join(json.dumps(r) for r in (native, flat)) + "\n", "c2b.jsonl")
    pool = load_pool([path])
    assert pool.get("dog").backgrounds == ["park"]
    # The backgrounds came from the c2b run; the concept from the original pool.
    assert pool.get("dog").sources == ["orig.json", str(path)]
    assert pool.get("cat").backgrounds == ["sofa", "garden"]


def test_merging_keeps_provenance_and_backgrounds(pool_file):
    a = pool_file({"Dog": ["park"]}, "a.json")
    b = pool_file(["dog", "cat"], "b.json")
    c = pool_file({"dog": ["Park", "beach"]}, "c.json")
    pool = load_pool([a, b, c], shape="concept_backgrounds")
    dog = pool.get("DOG")
    assert dog.name == "Dog"
    assert dog.sources == [str(a), str(b), str(c)]
    assert dog.backgrounds == ["park", "beach"]
    assert pool.merged_duplicates == 2
    assert pool.per_source == {str(a): 1, str(b): 2, str(c): 1}


def test_merged_shape_round_trip(pool_file, tmp_path):
    pool = load_pool([pool_file({"dog": ["park"]}, "a.json"), pool_file(["cat"], "b.json")],
                     shape="concept_backgrounds")
    pool.get("cat").notes["photographable"] = "yes"
    again = load_pool([pool_file(pool.to_json(), "merged.json")])
    assert [c.as_json() for c in again] == [c.as_json() for c in pool]


@pytest.mark.parametrize("data", [{"foo": 1}, 42, "not json {", {}])
def test_unknown_shape_names_file_and_shapes(pool_file, data):
    path = pool_file(data, "weird.json")
    with pytest.raises(UserError) as err:
        load_pool([path])
    message = str(err.value)
    assert str(path) in message
    assert "{concept: [backgrounds]}" in message or "empty" in message


@pytest.mark.parametrize(("data", "where"), [
    (["dog", "", "cat"], "[1]"),
    (["dog", 7], "[1]"),
    ({"concepts": ["dog", None]}, "concepts[1]"),
    ({"dog": ["park", 3]}, "[1]"),
])
def test_bad_concept_names_its_index(pool_file, data, where):
    path = pool_file(data)
    with pytest.raises(PoolError) as err:
        load_pool([path], shape="concept_backgrounds")
    assert where in str(err.value)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(PoolError, match="not found"):
        load_pool([tmp_path / "nope.json"])


def test_empty_pool_object():
    assert len(ConceptPool()) == 0
