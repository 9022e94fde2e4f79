"""The report of real runs (fake backend): figures match what the files say."""

from __future__ import annotations

import json
import sys
from collections import Counter

import pytest
from report_runs import words

from instructgen.errors import UserError
from instructgen.report import ReportOptions, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_report_figures_are_computed_from_the_run_files(edit_run):
    res = edit_run()
    out = write_report([res.run_dir], charts=False)
    assert out.markdown == res.run_dir / "report.md"
    report = json.loads(out.json.read_text())["runs"][0]
    records = lines(res.run_dir / "records.jsonl")
    rejects = lines(res.run_dir / "rejects.jsonl")
    manifest = json.loads((res.run_dir / "manifest.json").read_text())
    assert records and rejects  # the run has both, or the checks below prove little

    assert report["edit_types"] == dict(Counter(r["data"]["edit_type"] for r in records))
    assert report["records"] == len(records) == manifest["counts"]["accepted"]
    assert report["items"] == manifest["counts"]["items"] == 14
    assert report["items_with_records"] == len({r["item_id"] for r in records})
    lost = sum(step["lost"] for step in report["funnel"])
    assert report["items"] - lost == report["items_with_records"]
    assert report["reasons"] == dict(Counter(r["reason"] for r in rejects))

    edits = [r["data"]["edit"] for r in records]
    bigrams = [tuple(w[i:i + 2]) for w in map(words, edits) for i in range(len(w) - 1)]
    assert report["distinct_2"] == pytest.approx(len(set(bigrams)) / len(bigrams))
    assert report["unique_share"] == pytest.approx(
        len({" ".join(words(e)) for e in edits}) / len(edits))
    assert report["lengths"]["max"] == max(len(words(e)) for e in edits)
    first = Counter(words(e)[0] for e in edits)
    assert dict(report["top_verbs"]) == dict(first)

    counts = manifest["counts"]
    assert counts["invalid_answers"] > 0
    assert report["valid_answer_share"] == pytest.approx(
        (counts["requests"] - counts["invalid_answers"]) / counts["requests"])
    assert report["items_per_s"] == manifest["throughput"]["items_per_s"]

    md = out.markdown.read_text()
    assert f"| distinct-2 | {report['distinct_2']:.3f} |" in md
    for etype, n in report["edit_types"].items():
        assert f"| {etype} | {n:,} (" in md
    top_reason = max(report["reasons"].items(), key=lambda kv: kv[1])
    assert top_reason[0] in md.split("### Rejection reasons, ranked")[1].split("\n| 1 |")[1]


@pytest.mark.slow
def test_charts_are_pngs_linked_from_the_report(edit_run):
    pytest.importorskip("matplotlib")
    res = edit_run()
    out = write_report([res.run_dir])
    assert {"funnel.png", "lengths.png", "edit_types.png", "top_verbs.png"} <= set(
        out.charts.files.values())
    md = out.markdown.read_text()
    for name in out.charts.files.values():
        assert (res.run_dir / name).read_bytes()[:8] == PNG_MAGIC
        assert f"]({name})" in md


def test_without_matplotlib_the_report_says_charts_were_skipped(edit_run, monkeypatch):
    res = edit_run()
    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now fails
    out = write_report([res.run_dir])
    assert out.charts.files == {}
    assert "Charts were skipped: matplotlib is not installed" in out.markdown.read_text()
    assert not list(res.run_dir.glob("*.png"))


def test_comparison_puts_each_run_in_its_own_column(edit_run, tmp_path):
    a = edit_run("only_replace", types=("replace",))
    b = edit_run("only_add", types=("add",), seed=5)
    out = write_report([a.run_dir, b.run_dir], tmp_path / "cmp", charts=False)
    md = out.markdown.read_text()
    assert md.startswith("# Dataset report: only_replace vs only_add")
    assert "| edit type | only_replace | only_add |" in md
    n_a, n_b = len(a.records), len(b.records)
    assert f"| replace | {n_a:,} (100.0%) | 0 (0.0%) |" in md
    assert f"| add | 0 (0.0%) | {n_b:,} (100.0%) |" in md
    assert not (a.run_dir / "report.md").exists()  # a comparison writes only to --out
    runs = json.loads(out.json.read_text())["runs"]
    singles = [json.loads(write_report([r.run_dir], charts=False).json.read_text())["runs"][0]
               for r in (a, b)]
    for column, single in zip(runs, singles, strict=True):
        assert column["distinct_2"] == single["distinct_2"]
        assert column["self_bleu"] == single["self_bleu"]


def test_same_folder_names_get_distinct_column_titles(edit_run, tmp_path):
    for name, parent in (("x", "one"), ("y", "two")):
        (tmp_path / parent).mkdir()
        edit_run(name).run_dir.rename(tmp_path / parent / "run")
    out = write_report([tmp_path / "one" / "run", tmp_path / "two" / "run"], tmp_path / "cmp",
                       charts=False)
    assert "| one/run | two/run |" in out.markdown.read_text()


def test_several_runs_need_an_output_folder(edit_run):
    a, b = edit_run("a"), edit_run("b")
    with pytest.raises(UserError, match="--out"):
        write_report([a.run_dir, b.run_dir])


def test_the_sample_seed_is_reproducible_and_changes_the_sample(edit_run):
    res = edit_run()
    opts = ReportOptions(sample_size=4, seed=1)
    one = write_report([res.run_dir], options=opts, charts=False).metrics[0]
    again = write_report([res.run_dir], options=opts, charts=False).metrics[0]
    assert one.self_bleu == again.self_bleu and one.sample_size == 4
