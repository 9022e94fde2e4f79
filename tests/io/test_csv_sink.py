"""The ``csv`` sink: AnyEdit's caption columns, a flat layout, and byte-identical resume."""

from __future__ import annotations

import csv
import io
import json

import pytest

from instructgen.api import plan
from instructgen.plugins.io.csv_sink import CsvSink, CsvSinkOptions
from instructgen.records import OutputRecord
from instructgen.runner import Runner
from instructgen.testing import run_recipe


def _rec(generator, data, rid="1", extra=None):
    return OutputRecord(id=rid, item_id=rid, generator=generator, data=data, extra=extra or {})


def _lines(sink, records, tmp_path):
    sink.open(tmp_path / "none.csv")  # a fresh (absent) file
    text = "".join(sink.encode(r) + "\n" for r in records)
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize(
    ("generator", "data", "header", "row"),
    [
        ("c2cap", {"concept": "cup", "caption": "A cup.", "words": 2},
         ["concept", "caption"], ["cup", "A cup."]),
        ("cb2cap", {"concept": "cup", "background": "a kitchen", "caption": "A cup, here.",
                    "background_overlap": 0.5},
         ["concept", "background", "caption"], ["cup", "a kitchen", "A cup, here."]),
        ("cc2cap", {"concepts": ["cup", "dog"], "caption": "A dog by a cup.\nIn a room.",
                    "background": None},
         ["concept1", "concept2", "caption"], ["cup", "dog", "A dog by a cup.\nIn a room."]),
    ],
)
def test_caption_families_get_anyedits_columns(tmp_path, generator, data, header, row):
    rows = _lines(CsvSink(CsvSinkOptions()), [_rec(generator, data)], tmp_path)
    assert rows == [header, row]


def test_flat_layout_keeps_every_field(tmp_path):
    records = [_rec("edit", {"edit": "add a hat", "n": 3, "ok": True, "tags": ["a"]},
                    extra={"url": "u"}),
               _rec("edit", {"edit": "remove it", "n": None, "late": "x"}, rid="2")]
    rows = _lines(CsvSink(CsvSinkOptions(layout="flat")), records, tmp_path)
    assert rows[0] == ["id", "item_id", "edit", "n", "ok", "tags", "extra"]
    assert rows[1] == ["1", "1", "add a hat", "3", "true", '["a"]', '{"url": "u"}']
    # a field the first record lacked is not dropped: it goes to extra
    assert rows[2][:6] == ["2", "2", "remove it", "", "", ""]
    assert json.loads(rows[2][6]) == {"late": "x"}


def test_a_resumed_file_keeps_its_header_and_layout(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("concept,caption\ncup,A cup.\n")
    sink = CsvSink(CsvSinkOptions(filename="out.csv"))
    sink.open(path)
    assert sink.encode(_rec("c2cap", {"concept": "dog", "caption": "A dog."})) == "dog,A dog."


def _recipe(tmp_path, limit=None):
    tmp_path.mkdir(exist_ok=True)
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"caption": f"cup, {i}", "n": i}) + "\n"
                             for i in range(12)))
    recipe = {
        "source": {"name": "jsonl", "path": str(items)},
        "generator": {"name": "prompt", "template": "Shorten: {caption}"},
        "backend": "fake",
        "sink": {"name": "csv"},
        "output_dir": str(tmp_path / "run"),
        "cache": {"path": str(tmp_path / "cache.sqlite")},
    }
    if limit is not None:
        recipe["limit"] = limit
    return recipe


def test_an_interrupted_run_resumes_to_the_same_bytes(tmp_path):
    whole = run_recipe(_recipe(tmp_path / "a"), tmp_path / "a")
    expected = (whole.run_dir / "output.csv").read_bytes()
    rows = list(csv.reader(io.StringIO(expected.decode())))
    assert rows[0] == ["id", "item_id", "caption", "n", "text", "extra"]
    assert len(rows) == 13 and rows[1][2] == "cup, 0"

    recipe = _recipe(tmp_path / "b")
    for stop_after in (1, 6):  # stop after the first record, then in the middle
        the_plan, registry = plan(recipe, autoload=False)
        records = Runner(the_plan, registry).records()
        for _ in range(stop_after):
            next(records)
        records.close()
        out = tmp_path / "b" / "run" / "output.csv"
        # a crash mid-write leaves a partial line after the committed state
        with out.open("ab") as f:
            f.write(b"7,7,half a ro")
    the_plan, registry = plan(recipe, autoload=False)
    Runner(the_plan, registry).run()
    assert (tmp_path / "b" / "run" / "output.csv").read_bytes() == expected
