"""labels.jsonl: the format, its checks, and ``instructgen review --import``."""

from __future__ import annotations

import json

import pytest

from instructgen.cli import main
from instructgen.errors import UserError
from instructgen.report.labels import (
    LABELS_FILE,
    REASONS,
    Label,
    import_labels,
    load_labels,
    parse_label,
    read_labels,
    rejection_ids,
)


def write(path, *objs):
    path.write_text("".join(json.dumps(o) + "\n" for o in objs))
    return path


def test_reasons_are_the_guides_eight_names():
    assert len(REASONS) == len(set(REASONS)) == 8
    assert all(r == r.lower() and " " not in r for r in REASONS)
    assert "stage_incompatible" in REASONS and "wrong_type" in REASONS


def test_rejection_lines_are_numbered_per_item_in_file_order():
    lines = [{"item_id": "a"}, {"item_id": "b"}, {"item_id": "a"}, {"item_id": 7}]
    assert rejection_ids(lines) == ["a/rejected/0", "b/rejected/0", "a/rejected/1",
                                    "7/rejected/0"]


@pytest.mark.parametrize("obj, message", [
    ({"recipe_hash": "h", "label": "good"}, "record_id must be a non-empty string"),
    ({"record_id": "1", "recipe_hash": "", "label": "good"}, "recipe_hash must be"),
    ({"record_id": "1", "recipe_hash": "h", "label": "ok"}, "label must be one of good, bad"),
    ({"record_id": "1", "recipe_hash": "h", "label": "bad", "reason": "ugly"},
     "reason must be null or one of wrong_type"),
    ({"record_id": "1", "recipe_hash": "h", "label": "good", "reason": "rambling"},
     "a good label has no reason"),
    ({"record_id": "1", "recipe_hash": "h", "label": "bad", "note": "x"}, "unknown key 'note'"),
])
def test_a_bad_label_names_where_and_what(obj, message):
    with pytest.raises(UserError, match=r"labels\.jsonl:3: ") as err:
        parse_label(obj, "labels.jsonl:3")
    assert message in str(err.value)


def test_read_labels_names_the_file_and_line(tmp_path):
    path = write(tmp_path / "l.jsonl", {"record_id": "1", "recipe_hash": "h", "label": "good"},
                 {"record_id": "2", "recipe_hash": "h", "label": "meh"})
    with pytest.raises(UserError, match=rf"{tmp_path / 'l.jsonl'}:2: label must be"):
        read_labels(path)
    with pytest.raises(UserError, match="no such labels file"):
        read_labels(tmp_path / "missing.jsonl")


def test_import_merges_and_a_later_label_wins(tmp_path):
    first = [Label("1", "h", "good"), Label("2", "h", "bad", "rambling")]
    res = import_labels(tmp_path, "h", first, known_ids=["1", "2", "3"])
    assert (res.stored, res.new, res.changed, res.unknown_ids) == (2, 2, 0, 0)
    again = [Label("2", "h", "good"), Label("3", "h", "bad", None), Label("9", "h", "good")]
    res = import_labels(tmp_path, "h", again, known_ids=["1", "2", "3"])
    assert (res.stored, res.new, res.changed, res.unknown_ids) == (4, 2, 1, 1)
    stored = load_labels(tmp_path, "h")
    assert stored["2"] == Label("2", "h", "good") and stored["1"] == first[0]
    assert read_labels(tmp_path / LABELS_FILE) == list(stored.values())


def test_labels_of_an_older_recipe_in_the_folder_are_left_out(tmp_path):
    write(tmp_path / LABELS_FILE, {"record_id": "1", "recipe_hash": "old", "label": "good"},
          {"record_id": "2", "recipe_hash": "new", "label": "bad", "reason": None})
    assert list(load_labels(tmp_path, "new")) == ["2"]
    assert load_labels(tmp_path / "nowhere", "new") == {}


def test_cli_import_refuses_another_recipe_with_one_line(judged_run, tmp_path, capsys):
    run = judged_run().run_dir
    ours = json.loads((run / "manifest.json").read_text())["recipe_hash"]
    good = write(tmp_path / "good.jsonl",
                 {"record_id": "1", "recipe_hash": ours, "label": "good", "reason": None})
    assert main(["review", "--import", str(good), str(run)]) == 0
    assert "stored 1 labels" in capsys.readouterr().out
    before = (run / LABELS_FILE).read_text()
    foreign = write(tmp_path / "foreign.jsonl",
                    {"record_id": "1", "recipe_hash": ours, "label": "bad", "reason": None},
                    {"record_id": "3", "recipe_hash": "0" * 64, "label": "good"})
    assert main(["review", "--import", str(foreign), str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is for recipe hash 000000000000" in err
    assert ours[:12] in err
    assert (run / LABELS_FILE).read_text() == before  # nothing of the refused file stored
