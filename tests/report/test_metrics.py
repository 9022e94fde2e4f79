"""Metrics of a hand-made run directory, each checked against a count done by hand."""

from __future__ import annotations

import pytest
from report_runs import RECORDS, REJECTIONS, manifest, record, write_run

from instructgen.errors import UserError
from instructgen.report import ReportOptions, compute_metrics, load_run
from instructgen.report.diversity import distinct_n
from instructgen.report.rundata import detect_text_field, texts_of


@pytest.fixture
def metrics(tmp_path):
    return compute_metrics(load_run(write_run(tmp_path / "r1", RECORDS, REJECTIONS)))


def test_counts_per_edit_type_and_source(metrics):
    assert metrics.edit_types == {"replace": 2, "multi_turn": 1, "remove": 1}
    # record 3 names its own source; the rest come from the recipe's source
    assert metrics.sources == {"coco": 3, "laion": 1}
    assert metrics.source_stats == {"skipped_no_caption": 3}


def test_funnel_charges_each_lost_item_to_its_last_rejection_stage(metrics):
    steps = {s.stage: (s.lost, s.remaining) for s in metrics.funnel}
    # pipeline order, not file order
    assert [s.stage for s in metrics.funnel] == ["generate", "consistency", "judge",
                                                 "postprocess"]
    # item 5's generate rejection was followed by a judge one: lost at the judge
    assert steps == {"generate": (0, 6), "consistency": (1, 5), "judge": (1, 4),
                     "postprocess": (0, 4)}
    assert metrics.items_with_records == 4 and metrics.unexplained_losses == 0


def test_rejection_reasons_are_ranked_per_stage(metrics):
    by_stage = {s.stage: s for s in metrics.stage_rejections}
    assert by_stage["judge"].total == 2 and by_stage["judge"].items == 2
    assert by_stage["consistency"].reasons == (("edited_object_not_in_input", 1),
                                               ("output_unchanged", 1))
    assert next(iter(metrics.reasons.items())) == ("judge_no", 2)
    assert sum(metrics.reasons.values()) == len(REJECTIONS)


def test_texts_come_from_edit_including_each_turn_of_a_chain(metrics):
    assert metrics.text_field == "edit"
    texts = ["Replace the dog with a cat.", "Remove the dog.", "replace the red car with a bus",
             "Replace the tree with a bush.", "Make the bush blue."]
    assert metrics.texts == len(texts)
    assert metrics.distinct_2 == pytest.approx(distinct_n(texts, 2))
    assert metrics.lengths.values == (6, 3, 7, 6, 4)
    assert (metrics.lengths.min, metrics.lengths.max, metrics.lengths.median) == (3, 7, 6)
    assert metrics.lengths.p90 == 7


def test_top_verbs_and_objects(metrics):
    assert metrics.verbs_label == "verbs"
    assert metrics.top_verbs[0] == ("replace", 3)
    assert dict(metrics.top_verbs) == {"replace": 3, "remove": 1, "make": 1}
    # "the dog" and "Dog" are one object once the article and case are gone
    assert dict(metrics.top_objects) == {"dog": 2, "red car": 1, "tree": 1, "bush": 1}


def test_valid_answer_share_and_throughput_come_from_the_manifest(metrics):
    assert metrics.requests == 20 and metrics.invalid_answers == 5
    assert metrics.valid_answer_share == pytest.approx(15 / 20)
    assert (metrics.items_per_s, metrics.tokens_per_s, metrics.backend_share) == (1.5, 75.0, 0.9)
    assert metrics.elapsed_s == pytest.approx(4.0)


def test_text_field_detection_order_and_override(tmp_path):
    recs = [record("1", {"caption": "A dog.", "instruction": "What if it rains?"}),
            record("2", {"caption": "A cat.", "instruction": "What if it snows?"})]
    assert detect_text_field(recs) == "instruction"
    assert detect_text_field(recs, "caption") == "caption"
    assert detect_text_field(recs, "nope") is None
    phrases = [record("1", {"concept": "dog", "backgrounds": ["a park", "a beach"]})]
    assert detect_text_field(phrases) == "backgrounds"
    assert texts_of(phrases[0], "backgrounds") == ["a park", "a beach"]
    run = load_run(write_run(tmp_path / "r", recs, []))
    m = compute_metrics(run, ReportOptions(text_field="caption"))
    assert m.text_field == "caption" and m.verbs_label == "first words"
    assert dict(m.top_verbs) == {"a": 2}


def test_a_field_most_records_lack_does_not_win_over_a_common_one():
    recs = [record(str(i), {"caption": f"caption {i}"}) for i in range(10)]
    recs.append(record("x", {"caption": "c", "edit": "Add a hat."}))
    assert detect_text_field(recs) == "caption"


def test_interrupted_manifest_without_counts_still_reports(tmp_path):
    man = manifest(counts={}, throughput={}, sessions=[], status="running")
    m = compute_metrics(load_run(write_run(tmp_path / "r", RECORDS, REJECTIONS, man)))
    assert m.items == 6  # items seen in the files: 1, 2, 3, 4, 5, 6
    assert m.valid_answer_share is None and m.items_per_s is None


@pytest.mark.parametrize("make", ["missing", "no_manifest", "bad_line"])
def test_bad_run_directories_name_the_path(tmp_path, make):
    path = tmp_path / "run"
    if make != "missing":
        path.mkdir()
    if make == "bad_line":
        write_run(path, [], [])
        (path / "records.jsonl").write_text('{"id": 1}\nnot json\n')
    with pytest.raises(UserError) as err:
        load_run(path)
    assert str(path) in str(err.value)
    if make == "bad_line":
        assert "records.jsonl:2" in str(err.value)


def test_near_duplicate_rate_runs_on_a_capped_sample(tmp_path):
    # odd items: one text twenty times; even items: texts sharing no word with any other
    recs = [record(str(i), {"edit": "Add a hat to the man." if i % 2 else f"x{i} y{i} z{i}"})
            for i in range(40)]
    run = load_run(write_run(tmp_path / "r", recs, []))
    full = compute_metrics(run)
    assert full.near_duplicate_sample == 40
    assert full.near_duplicate_share == pytest.approx(19 / 40)  # 20 copies, the first is new
    capped = compute_metrics(run, ReportOptions(near_duplicate_sample=10))
    assert capped.near_duplicate_sample == 10
    assert capped.unique_share == full.unique_share == pytest.approx(21 / 40)
