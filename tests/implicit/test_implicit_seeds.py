"""The ``implicit_seeds`` source: file shapes, misspelled keys, bad input, sampling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instructgen.errors import UserError
from instructgen.plugins.implicit.checks import QuadrupleRules, check_quadruple
from instructgen.plugins.implicit.seeds import ImplicitSeedsOptions, ImplicitSeedsSource

REPO = Path(__file__).resolve().parents[2]

MISSPELLED = {
    "sample1": {"original_caption": "an ice cube on a plate", "instuction": "What if it is noon?",
                "target_cation": "a puddle of water on a plate", "key_words": "ice, plate"},
    "sample2": {"original_caption": "a log in a fireplace", "instuction": "What if it is lit?",
                "target_cation": "a burning log in a fireplace", "key_words": ["log", "fire"],
                "note": "kept"},
}


def _write(tmp_path: Path, obj: object, name: str = "seeds.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return path


def _source(path: Path, **kw: object) -> ImplicitSeedsSource:
    return ImplicitSeedsSource(ImplicitSeedsOptions(path=path, **kw))


def test_misspelled_keys_are_normalized_to_snake_case(tmp_path: Path) -> None:
    items = list(_source(_write(tmp_path, MISSPELLED)))
    assert [i.id for i in items] == ["sample1", "sample2"]
    assert items[0].data == {"original_caption": "an ice cube on a plate",
                             "instruction": "What if it is noon?",
                             "target_caption": "a puddle of water on a plate",
                             "keywords": ["ice", "plate"]}
    assert items[1].data["keywords"] == ["log", "fire"]
    assert items[1].extra == {"note": "kept"}


def test_correct_keys_and_list_form(tmp_path: Path) -> None:
    rows = [{"original_caption": "a kite in the sky", "instruction": "What if the wind stops?",
             "target_caption": "a kite lying on the grass", "keywords": "kite and grass"}]
    items = list(_source(_write(tmp_path, rows)))
    assert items[0].id == "sample1"
    assert items[0].data["keywords"] == ["kite", "grass"]


def test_jsonl_form_uses_id_or_line_number(tmp_path: Path) -> None:
    lines = [json.dumps({"id": "egg", **MISSPELLED["sample1"]}), "",
             json.dumps(MISSPELLED["sample2"])]
    items = list(_source(_write(tmp_path, "\n".join(lines), "seeds.jsonl")))
    assert [i.id for i in items] == ["egg", "line3"]
    assert items[0].data["instruction"] == "What if it is noon?"


@pytest.mark.parametrize(("drop", "field"), [
    ("original_caption", "original_caption"),
    ("instuction", "instruction"),
    ("target_cation", "target_caption"),
    ("key_words", "keywords"),
])
def test_missing_field_names_sample_and_field(tmp_path: Path, drop: str, field: str) -> None:
    bad = json.loads(json.dumps(MISSPELLED))
    del bad["sample2"][drop]
    with pytest.raises(UserError) as info:
        _source(_write(tmp_path, bad))
    msg = str(info.value)
    assert "'sample2'" in msg and f"missing field {field!r}" in msg and "seeds.json" in msg


def test_empty_or_wrong_type_field(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(MISSPELLED))
    bad["sample1"]["target_cation"] = "   "
    with pytest.raises(UserError, match=r"'sample1'.*'target_cation' is empty"):
        _source(_write(tmp_path, bad))
    bad["sample1"]["target_cation"] = 3
    with pytest.raises(UserError, match=r"'sample1'.*must be a string, got int"):
        _source(_write(tmp_path, bad))


@pytest.mark.parametrize(("text", "name", "match"), [
    ("{not json", "seeds.json", r"seeds\.json: not valid JSON"),
    ('"a string"', "seeds.json", "expected an object of samples or a list"),
    ("{}", "seeds.json", "no seed examples"),
    ('{"a": 1}\n[1]', "seeds.jsonl", r"seeds\.jsonl:2: expected a JSON object"),
    ('{"sample1": 5}', "seeds.json", r"sample 'sample1': expected an object"),
])
def test_bad_files(tmp_path: Path, text: str, name: str, match: str) -> None:
    with pytest.raises(UserError, match=match):
        _source(_write(tmp_path, text, name))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="file not found"):
        _source(tmp_path / "nope.json")


def test_duplicate_jsonl_ids(tmp_path: Path) -> None:
    line = json.dumps({"id": "x", **MISSPELLED["sample1"]})
    with pytest.raises(UserError, match="'x' appears twice"):
        _source(_write(tmp_path, f"{line}\n{line}", "s.jsonl"))


def test_seeded_sample_is_stable_and_in_file_order(tmp_path: Path) -> None:
    many = {f"sample{i}": dict(MISSPELLED["sample1"], original_caption=f"thing {i}")
            for i in range(1, 21)}
    path = _write(tmp_path, many)
    first = [i.id for i in _source(path, sample=5, sample_seed=3)]
    again = [i.id for i in _source(path, sample=5, sample_seed=3)]
    other = [i.id for i in _source(path, sample=5, sample_seed=4)]
    assert first == again and len(first) == 5 and len(set(first)) == 5
    assert first == sorted(first, key=lambda k: int(k[6:]))
    assert other != first
    src = _source(path, sample=50)
    assert len(list(src)) == 20 and src.stats() == {"seeds_in_file": 20, "seeds_used": 20}


def test_sample_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sample must be at least 1"):
        ImplicitSeedsOptions(path=tmp_path, sample=0)


def test_shipped_examples_load_and_pass_our_own_checks() -> None:
    items = list(_source(REPO / "examples/implicit/seeds.json"))
    assert len(items) >= 8
    raw = json.loads((REPO / "examples/implicit/seeds.json").read_text())
    assert all("instuction" in s and "target_cation" in s for s in raw.values())
    for item in items:
        check_quadruple(item.data, QuadrupleRules(max_words=16))
