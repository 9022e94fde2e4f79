"""instructgen concepts merge | dedup | stats | filter."""

from __future__ import annotations

import argparse
import json
import sys

import pytest

from instructgen.cli import main
from instructgen.plugins.concepts.cli import register
from instructgen.plugins.concepts.pool import load_pool
from instructgen.plugins.concepts.tools import dedup_pool


def test_register_adds_the_group():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["concepts", "stats", "a.json"])
    assert args.func.__name__ == "cmd_stats"


def test_merge_any_shapes_keeps_provenance(pool_file, tmp_path, capsys):
    a = pool_file(["dog", "cat"], "a.json")
    b = pool_file("dog\nowl\n", "b.txt")
    c = pool_file({"owl": ["barn"], "fox": ["forest"]}, "c.json")
    out = tmp_path / "merged.json"
    assert main(["concepts", "merge", str(a), str(b), str(c), "-o", str(out),
                 "--pool-shape", "concept_backgrounds"]) == 0
    assert "4 concepts (2 duplicate entries merged)" in capsys.readouterr().out
    data = json.loads(out.read_text())
    by_name = {e["name"]: e for e in data["concepts"]}
    assert by_name["dog"]["sources"] == [str(a), str(b)]
    assert by_name["owl"] == {"name": "owl", "backgrounds": ["barn"],
                              "sources": [str(b), str(c)]}
    # The merged file is itself a pool, provenance intact.
    assert load_pool([out]).get("owl").sources == [str(b), str(c)]


def test_merge_other_shapes(pool_file, tmp_path):
    src = pool_file({"owl": ["barn"], "fox": []})
    out = tmp_path / "names.json"
    assert main(["concepts", "merge", str(src), "-o", str(out), "--shape", "list",
                 "--pool-shape", "concept_backgrounds"]) == 0
    assert json.loads(out.read_text()) == ["owl", "fox"]
    assert main(["concepts", "merge", str(src), "-o", str(out),
                 "--pool-shape", "concept_backgrounds", "--shape", "dict"]) == 0
    assert json.loads(out.read_text()) == {"owl": ["barn"], "fox": []}


def test_bad_pool_is_a_one_line_user_error(pool_file, tmp_path, capsys):
    bad = pool_file({"oops": 3}, "bad.json")
    assert main(["concepts", "merge", str(bad), "-o", str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "accepted shapes" in err and err.count("\n") == 1
    good = pool_file(["dog"], "good.json")
    assert main(["concepts", "merge", str(good), "-o", str(good)]) == 2


def test_dedup_lemmas_fuzzy_and_missing_embeddings(pool_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # not installed
    src = pool_file(["Dog", "dogs", "grey squirrel", "gray squirrel", "cat", "Red Buses",
                     "red bus", "the cat", "catalog"])
    out = tmp_path / "dedup.json"
    assert main(["concepts", "dedup", str(src), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "sentence-transformers is not installed" in captured.err
    assert "fuzzy matching" in captured.err
    data = json.loads(out.read_text())
    names = [e["name"] for e in data["concepts"]]
    assert names == ["Dog", "grey squirrel", "cat", "Red Buses", "catalog"]
    aliases = {e["name"]: e.get("aliases") for e in data["concepts"]}
    assert aliases["Dog"] == ["dogs"] and aliases["grey squirrel"] == ["gray squirrel"]
    assert "3 lemma, 1 fuzzy" in captured.out

    assert main(["concepts", "dedup", str(src), "-o", str(out), "--fuzzy", "0"]) == 0
    assert "gray squirrel" in [e["name"] for e in json.loads(out.read_text())["concepts"]]


def test_dedup_by_embeddings_when_available(pool_file):
    pool = load_pool([pool_file(["sofa", "couch", "bicycle", "bike"])])
    vectors = {"sofa": [1, 0, 0], "couch": [0.95, 0.1, 0], "bicycle": [0, 1, 0],
               "bike": [0, 0.9, 0.2]}
    out, report = dedup_pool(pool, embedding_threshold=0.9,
                             embed=lambda names: [vectors[n] for n in names])
    assert [c.name for c in out] == ["sofa", "bicycle"]
    assert report.merges["embedding"] == [("sofa", "couch"), ("bicycle", "bike")]
    assert out.get("sofa").notes["aliases"] == ["couch"]


def test_stats(pool_file, capsys):
    a = pool_file({"dog": ["park", "beach"], "cat": []}, "a.json")
    b = pool_file({"dog": ["sofa"], "owl": ["barn"]}, "b.json")
    assert main(["concepts", "stats", str(a), str(b), "--json", "--per-concept",
                 "--pool-shape", "concept_backgrounds"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["concepts"] == 3 and stats["merged_duplicates"] == 1
    assert stats["per_source"][str(a)] == {"concepts": 2, "with_backgrounds": 1}
    assert stats["per_source"][str(b)] == {"concepts": 2, "with_backgrounds": 2}
    assert stats["per_concept"] == {"dog": 3, "cat": 0, "owl": 1}
    assert stats["backgrounds_per_concept"]["max"] == 3
    assert main(["concepts", "stats", str(a), "--pool-shape", "concept_backgrounds"]) == 0
    text = capsys.readouterr().out
    assert "concepts: 2" in text and f"{a}: 2 concepts, 1 with backgrounds" in text


def test_filter_llm_records_strict_answers(pool_file, tmp_path, capsys):
    src = pool_file(["dog", "teapot", "justice", "happiness"])
    out = tmp_path / "kept.json"
    responses = ("responses={ 'dog|teapot' = '{\"answer\":\"yes\"}', "
                 "'justice' = '{\"answer\":\"no\"}', 'happiness' = 'yes and no' }")
    code = main(["concepts", "filter", str(src), "-o", str(out), "--llm", "--backend", "fake",
                 "--backend-option", responses, "--batch-size", "3"])
    assert code == 0
    assert "2 yes, 1 no, 1 unclear; kept 2" in capsys.readouterr().out
    kept = json.loads(out.read_text())["concepts"]
    assert [(e["name"], e["photographable"]) for e in kept] == [("dog", "yes"),
                                                                ("teapot", "yes")]
    answers = [json.loads(x) for x in (tmp_path / "kept.answers.jsonl").read_text().splitlines()]
    assert [(a["concept"], a["answer"], a["kept"]) for a in answers] == [
        ("dog", "yes", True), ("teapot", "yes", True), ("justice", "no", False),
        ("happiness", "unclear", False)]
    assert answers[3]["raw"] == "yes and no"


def test_filter_errors(pool_file, tmp_path, capsys):
    src = pool_file(["dog"])
    out = str(tmp_path / "o.json")
    assert main(["concepts", "filter", str(src), "-o", out]) == 2
    assert "--llm" in capsys.readouterr().err
    assert main(["concepts", "filter", str(src), "-o", out, "--llm", "--backend", "fakee"]) == 2
    assert "did you mean 'fake'" in capsys.readouterr().err
    assert main(["concepts", "filter", str(src), "-o", out, "--llm", "--backend", "fake",
                 "--model", "x"]) == 2
    assert "model" in capsys.readouterr().err


@pytest.mark.parametrize("threshold", ["1.5", "-0.1"])
def test_dedup_threshold_checked(pool_file, tmp_path, threshold):
    src = pool_file(["dog"])
    assert main(["concepts", "dedup", str(src), "-o", str(tmp_path / "o.json"),
                 "--fuzzy", threshold]) == 2
