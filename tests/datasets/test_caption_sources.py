"""The caption sources on our example files, on other shapes, and on malformed files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from instructgen.plugins.datasets import (
    AnyWordSource,
    CaptionsSource,
    CocoSource,
    DatasetError,
    LlavaSource,
    RecordsSource,
)
from instructgen.plugins.datasets.anyword import AnyWordOptions, quote_texts
from instructgen.plugins.datasets.captions import CaptionsOptions
from instructgen.plugins.datasets.coco import CocoOptions
from instructgen.plugins.datasets.llava import LlavaOptions
from instructgen.plugins.datasets.records import RecordsOptions

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "edits"


def write(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


# -- coco ---------------------------------------------------------------------------------


def test_coco_official_one_caption_per_image_is_seeded():
    items = list(CocoSource(CocoOptions(path=EXAMPLES / "coco_captions.json")))
    assert len(items) == 8
    assert [i.id for i in items][:2] == ["101", "102"]
    first = items[0].data
    assert first["image_file"] == "000000000101.jpg" and first["image_id"] == "101"
    assert first["caption"] in {"A brown dog sitting on a couch next to a pillow.",
                                "A dog resting on a living room sofa.",
                                "A small dog lying on a grey couch."}
    again = list(CocoSource(CocoOptions(path=EXAMPLES / "coco_captions.json")))
    assert [i.data for i in again] == [i.data for i in items]
    picks = {seed: tuple(i.data["caption"] for i in CocoSource(
        CocoOptions(path=EXAMPLES / "coco_captions.json", seed=seed))) for seed in range(5)}
    assert len(set(picks.values())) > 1


def test_coco_all_captions_and_image_root():
    src = CocoSource(CocoOptions(path=EXAMPLES / "coco_captions.json", captions="all",
                                 image_root="/data/val2017/"))
    items = list(src)
    assert len(items) == src.total() == 18
    assert items[0].id == "101:1" and items[0].data["image_file"] == \
        "/data/val2017/000000000101.jpg"
    assert len({i.id for i in items}) == 18


def test_coco_prefers_usable_captions_and_counts_skips(tmp_path):
    doc = {"images": [{"id": 1, "file_name": "1.jpg"}, {"id": 2, "file_name": "2.jpg"}],
           "annotations": [{"image_id": 1, "id": 1, "caption": ""},
                           {"image_id": 1, "id": 2, "caption": "A cat."},
                           {"image_id": 9, "id": 3, "caption": "orphan"}]}
    src = CocoSource(CocoOptions(path=write(tmp_path / "c.json", doc)))
    assert [i.data["caption"] for i in src] == ["A cat."]
    assert src.stats() == {"skipped_annotation_without_image": 1,
                           "skipped_image_without_captions": 1}


def test_coco_anyedit_shape(tmp_path):
    doc = {"k1": {"image_file": "a.jpg", "captions": ["A dog.", "A dog on grass."]},
           "k2": {"image_file": "b.jpg", "captions": []}}
    src = CocoSource(CocoOptions(path=write(tmp_path / "image_caption.json", doc),
                                 captions="all"))
    assert [(i.id, i.data["image_file"]) for i in src] == [("k1:0", "a.jpg"), ("k1:1", "a.jpg")]
    assert src.stats() == {"skipped_image_without_captions": 1}


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ({"images": [], "annotations": [{"image_id": 1, "caption": "x"}] * 3
          + [{"image_id": 1}]}, "annotations[3].caption: missing"),
        ({"images": {}, "annotations": []}, "images: expected a list, got an object"),
        ({"images": [{"file_name": "a.jpg"}], "annotations": []}, "images[0].id: missing"),
        ({"images": [], "annotations": [1]}, "annotations[0]: expected an object, got a number"),
        ({"k": {"captions": []}}, "k.image_file: missing"),
        ({"k": {"image_file": "a", "captions": "x"}}, "k.captions: expected a list"),
        ([1, 2], "(top level): expected an object, got a list"),
    ],
)
def test_coco_bad_shape_names_the_file_and_first_bad_path(tmp_path, doc, where):
    path = write(tmp_path / "captions_val.json", doc)
    with pytest.raises(DatasetError) as err:
        CocoSource(CocoOptions(path=path))
    assert str(err.value).startswith(f"{path}: ")
    assert where in str(err.value)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(DatasetError, match=r"source\.path: file not found"):
        CocoSource(CocoOptions(path=tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [}')
    with pytest.raises(DatasetError, match=r"bad.json: not valid JSON \(line 1, column 13"):
        CocoSource(CocoOptions(path=bad))


# -- llava ---------------------------------------------------------------------------------


def test_llava_list_example():
    src = LlavaSource(LlavaOptions(path=EXAMPLES / "llava_cc3m.json"))
    items = list(src)
    assert len(items) == src.total() == 8
    assert items[0].id == "GCC_train_000000001.jpg"
    assert items[0].data == {"caption": "a red kite flying over a sandy beach",
                             "image_file": "GCC_train_000000001.jpg"}


def test_llava_release_metadata_shape(tmp_path):
    rows = [{"id": "GCC_1", "image": "GCC_1.jpg", "caption": "olive oil in a bowl .",
             "blip_caption": "a bowl of oil", "url": "http://x/1.jpg"}]
    items = list(LlavaSource(LlavaOptions(path=write(tmp_path / "metadata.json", rows),
                                          caption_field="blip_caption")))
    assert items[0].id == "GCC_1"
    assert items[0].data == {"caption": "a bowl of oil", "image_file": "GCC_1.jpg",
                             "url": "http://x/1.jpg"}
    assert items[0].extra == {"caption": "olive oil in a bowl ."}


def test_llava_bad_shape(tmp_path):
    path = write(tmp_path / "l.json", [{"image_file": "a", "caption": "x"}, {"caption": "y"}])
    with pytest.raises(DatasetError, match=r"l.json: \[1\].image_file: missing"):
        LlavaSource(LlavaOptions(path=path))
    path = write(tmp_path / "m.json", [{"image_file": "a"}])
    with pytest.raises(DatasetError, match=r"m.json: \[0\].caption: missing"):
        LlavaSource(LlavaOptions(path=path))


# -- captions -------------------------------------------------------------------------------


ROWS = [{"key": "k1", "TEXT": "A dog on a couch.", "URL": "http://x/1.jpg", "width": 10},
        {"key": "k2", "TEXT": "A cat on a mat.", "URL": "http://x/2.jpg", "width": 20}]


def _check_rows(items):
    assert [i.id for i in items] == ["k1", "k2"]
    assert items[0].data == {"caption": "A dog on a couch.", "url": "http://x/1.jpg"}
    assert items[1].extra["width"] in (20, "20")


def test_captions_jsonl_json_csv_parquet(tmp_path):
    opts = {"caption_column": "TEXT", "id_column": "key"}
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n")
    write(tmp_path / "t.json", {"rows": ROWS})
    with open(tmp_path / "t.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(ROWS[0]))
        w.writeheader()
        w.writerows(ROWS)
    for name, extra in (("t.jsonl", {}), ("t.json", {"json_key": "rows"}), ("t.csv", {})):
        src = CaptionsSource(CaptionsOptions(path=tmp_path / name, **opts, **extra))
        _check_rows(list(src))
    pq = pytest.importorskip("pyarrow.parquet")
    import datetime

    import pyarrow as pa

    when = datetime.datetime(2024, 5, 1)
    pq.write_table(pa.Table.from_pylist([{**r, "seen": when} for r in ROWS]),
                   tmp_path / "t.parquet")
    src = CaptionsSource(CaptionsOptions(path=tmp_path / "t.parquet", **opts))
    assert src.total() == 2
    items = list(src)
    _check_rows(items)
    assert items[0].extra["seen"] == str(when)  # JSON-safe


def test_captions_image_column_is_detected_or_named(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"caption": "x", "file_name": "1.jpg"}))
    (item,) = CaptionsSource(CaptionsOptions(path=tmp_path / "a.jsonl"))
    assert item.id == "1" and item.data == {"caption": "x", "image_file": "1.jpg"}
    (tmp_path / "b.jsonl").write_text(json.dumps({"caption": "x", "img": "2.jpg"}))
    (item,) = CaptionsSource(CaptionsOptions(path=tmp_path / "b.jsonl", image_column="img"))
    assert item.data["image_file"] == "2.jpg"


@pytest.mark.parametrize(
    ("name", "text", "options", "message"),
    [
        ("a.jsonl", '{"caption": "x"}\n{"text": "y"}\n', {},
         "a.jsonl: line 2, column 'caption': missing"),
        ("b.jsonl", '{"caption": "x"}\nnot json\n', {}, "b.jsonl: line 2: not valid JSON"),
        ("c.jsonl", '[1]\n', {}, "c.jsonl: line 1: expected a JSON object, got a list"),
        ("d.json", '[{"caption": "x"}, 3]', {}, "d.json: [1]: expected an object"),
        ("e.json", '{"data": [{"caption": "x"}, {"cap": "y"}]}', {"json_key": "data"},
         "e.json: data[1].caption: missing"),
        ("f.csv", "text,url\nhello,http://x\n", {}, "f.csv: row 1, column 'caption': missing"),
        ("g.jsonl", '{"caption": "x"}\n', {"url_column": "link"},
         "g.jsonl: line 1, column 'link': missing (named by url_column)"),
        ("h.txt", "x", {}, "source.format: cannot tell the format"),
    ],
)
def test_captions_bad_input_names_file_and_place(tmp_path, name, text, options, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(DatasetError) as err:
        list(CaptionsSource(CaptionsOptions(path=tmp_path / name, **options)))
    assert message in str(err.value)


# -- anyword --------------------------------------------------------------------------------


def test_anyword_example_keeps_latin_text_and_counts_skips():
    src = AnyWordSource(AnyWordOptions(path=EXAMPLES / "anyword_data.json"))
    items = list(src)
    assert [i.id for i in items] == ["ex_0001.jpg", "ex_0002.jpg", "ex_0005.jpg", "ex_0006.jpg",
                                     "ex_0007.jpg", "ex_0008.jpg"]
    first = items[0].data
    assert first["texts"] == ["OPEN"]
    assert first["caption"] == 'a shop front with a large sign above the door, with the text "OPEN"'
    assert first["image_file"] == "ocr_data/example/imgs/ex_0001.jpg"
    assert items[2].data["texts"] == ["Summer Nights"]  # the invalid "LIVE" is dropped
    assert items[4].data["texts"] == ["TACOS"]  # the Chinese text is dropped
    assert src.stats() == {"skipped_invalid_annotation": 1, "skipped_no_annotations": 1,
                           "skipped_no_kept_text": 1, "skipped_other_language_annotation": 2}


def test_anyword_placeholders_and_bad_shape(tmp_path):
    assert quote_texts("a sign saying * and *", ["A", "B C"]) == 'a sign saying "A" and "B C"'
    assert quote_texts('a sign saying "A"', ["A"]) == 'a sign saying "A"'
    doc = {"data_root": "r", "data_list": [{"img_name": "1.jpg", "caption": "c",
                                            "annotations": [{"language": "Latin"}]}]}
    with pytest.raises(DatasetError, match=r"data_list\[0\].annotations\[0\].text: missing"):
        AnyWordSource(AnyWordOptions(path=write(tmp_path / "data.json", doc)))


# -- records --------------------------------------------------------------------------------


def test_records_source_reads_run_output_with_filters(tmp_path):
    src = RecordsSource(RecordsOptions(path=EXAMPLES / "edit_records.jsonl",
                                       edit_types=["replace"]))
    items = list(src)
    assert [i.id for i in items] == ["102", "105", "108"]
    assert items[0].data["record_id"] == "102" and items[0].data["record_generator"] == "edit"
    assert items[0].data["new_object"] == "windmill"
    assert src.stats() == {"skipped_other_edit_type": 3}

    run = tmp_path / "run"
    run.mkdir()
    lines = [{"id": "c1", "item_id": "c1", "generator": "c2cap",
              "data": {"concept": "kettle", "caption": "A kettle on a stove."}},
             {"id": "x", "item_id": "x", "generator": "implicit", "data": {"text": "t"}}]
    (run / "records.jsonl").write_text("\n".join(json.dumps(r) for r in lines))
    items = list(RecordsSource(RecordsOptions(path=run, generators=["c2cap"])))
    assert [(i.id, i.data["caption"]) for i in items] == [("c1", "A kettle on a stove.")]


def test_records_source_edit_type_filter_knows_the_old_names(tmp_path):
    path = tmp_path / "records.jsonl"
    rows = [{"id": str(i), "item_id": str(i), "generator": "edit",
             "data": {"edit_type": t, "caption": "a sign"}}
            for i, t in enumerate(["textual", "textual_change", "remove", ["odd"]])]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    by_new = RecordsSource(RecordsOptions(path=path, edit_types=["textual_change"]))
    assert [i.id for i in by_new] == ["0", "1"]
    by_old = RecordsSource(RecordsOptions(path=path, edit_types=["textual"]))
    assert [i.id for i in by_old] == ["0", "1"]
    assert by_old.stats() == {"skipped_other_edit_type": 2}


def test_records_source_bad_lines(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text('{"id": "1", "generator": "g", "data": {}}\n{"id": "2", "generator": "g"}\n')
    with pytest.raises(DatasetError, match=r"records\.jsonl: line 2: data: missing"):
        list(RecordsSource(RecordsOptions(path=path)))
