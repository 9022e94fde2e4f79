"""The JSONL source and the JSONL, Parquet and HF-datasets sinks."""

from __future__ import annotations

import json

import pytest

from instructgen.errors import UserError
from instructgen.plugins.io.jsonl import JsonlSource, JsonlSourceOptions
from instructgen.testing import run_recipe


def _items(tmp_path, rows):
    p = tmp_path / "items.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_jsonl_source_keeps_unknown_fields_under_extra_and_counts_lines(tmp_path):
    path = _items(tmp_path, [{"caption": "a", "url": "u", "id": "k1"},
                             {"caption": "b", "url": "v", "id": "k2"}])
    with path.open("a") as f:
        f.write('{"caption": "c", "url": "w", "id": "k3"}')  # no trailing newline
    src = JsonlSource(JsonlSourceOptions(path=path, id_field="id", fields=["caption"]))
    items = list(src)
    assert src.total() == 3
    assert [i.id for i in items] == ["k1", "k2", "k3"]
    assert items[0].data == {"caption": "a"}
    assert items[0].extra == {"url": "u", "id": "k1"}


def test_jsonl_source_names_file_and_line_of_bad_json(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"caption": "ok"}\n{"caption": \n')
    with pytest.raises(UserError, match=r"bad.jsonl:2: not valid JSON"):
        list(JsonlSource(JsonlSourceOptions(path=path)))


def _recipe(tmp_path, sink):
    path = _items(tmp_path, [{"caption": f"a blue cup {i}", "meta": {"k": i}} for i in range(5)])
    return {
        "source": {"name": "jsonl", "path": str(path), "fields": ["caption"]},
        "generator": {"name": "prompt", "template": "Shorten: {caption}"},
        "backend": "fake",
        "sink": sink,
    }


def test_jsonl_sink_writes_flat_rows(tmp_path):
    result = run_recipe(_recipe(tmp_path, {"name": "jsonl", "filename": "flat.jsonl"}), tmp_path)
    rows = [json.loads(x) for x in (result.run_dir / "flat.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [r.id for r in result.records]
    assert rows[0]["caption"] == "a blue cup 0" and rows[0]["extra"] == {"meta": {"k": 0}}
    assert rows[0]["text"] == result.records[0].data["text"]


def test_parquet_sink_matches_the_records(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed")
    result = run_recipe(_recipe(tmp_path, {"name": "parquet", "row_group_size": 2}), tmp_path)
    table = pq.read_table(result.run_dir / "output.parquet")
    assert table.num_rows == 5
    assert table.column("text").to_pylist() == [r.data["text"] for r in result.records]
    assert json.loads(table.column("extra").to_pylist()[3]) == {"meta": {"k": 3}}


@pytest.mark.slow
def test_hf_dataset_sink(tmp_path):
    datasets = pytest.importorskip("datasets", reason="the datasets extra is not installed")
    if not hasattr(datasets, "load_from_disk"):  # a folder named datasets on sys.path
        pytest.skip("the datasets extra is not installed")
    result = run_recipe(_recipe(tmp_path, {"name": "hf_dataset"}), tmp_path)
    ds = datasets.load_from_disk(str(result.run_dir / "hf_dataset"))
    assert ds["text"] == [r.data["text"] for r in result.records]


def _mixed_records():
    from instructgen.records import OutputRecord

    values = [None, None, None, "late text"]  # null in the first row group, text later
    return [OutputRecord(id=str(i), item_id=str(i), generator="g",
                         data={"late": values[i], "num": i if i % 2 else i + 0.5,
                               "clash": i if i < 2 else f"s{i}", "nested": {"k": [i]}})
            for i in range(4)]


def test_table_schema_is_taken_over_every_row_not_the_first_group(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed")
    from instructgen.tables import write_table

    records = _mixed_records()
    assert write_table(tmp_path / "t.parquet", lambda: iter(records), "parquet",
                       row_group_size=2) == 4
    table = pq.read_table(tmp_path / "t.parquet")
    assert table.column("late").to_pylist() == [None, None, None, "late text"]
    assert table.column("num").to_pylist() == [0.5, 1.0, 2.5, 3.0]      # ints and floats
    assert table.column("clash").to_pylist() == ["0", "1", '"s2"', '"s3"']  # JSON text
    assert json.loads(table.column("nested").to_pylist()[3]) == {"k": [3]}


def test_hf_dataset_sink_pickles_nothing_and_keeps_types(tmp_path):
    datasets = pytest.importorskip("datasets", reason="the datasets extra is not installed")
    if not hasattr(datasets, "load_from_disk"):
        pytest.skip("the datasets extra is not installed")
    import pickle

    from instructgen.plugins.io.arrow import HfDatasetSink, HfDatasetSinkOptions

    class Unpicklable:
        def __reduce__(self):
            raise AssertionError("the sink tried to pickle the records callable")

    guard = Unpicklable()
    records = _mixed_records()

    def source():
        assert guard is not None  # the closure holds something that refuses pickling
        return iter(records)

    with pytest.raises(AssertionError):
        pickle.dumps(guard)
    HfDatasetSink(HfDatasetSinkOptions(row_group_size=2)).finalize(tmp_path, source)
    ds = datasets.load_from_disk(str(tmp_path / "hf_dataset"))
    assert ds["late"] == [None, None, None, "late text"]
    assert ds["id"] == ["0", "1", "2", "3"]
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no work folder left
