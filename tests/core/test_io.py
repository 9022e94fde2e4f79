"""The JSONL source and the JSONL, Parquet and HF-datasets sinks."""

from __future__ import annotations

import json

import pytest

from instructgen.errors import UserError
from instructgen.plugins.io import JsonlSource, JsonlSourceOptions
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


def test_hf_dataset_sink(tmp_path):
    datasets = pytest.importorskip("datasets", reason="the datasets extra is not installed")
    if not hasattr(datasets, "load_from_disk"):  # a folder named datasets on sys.path
        pytest.skip("the datasets extra is not installed")
    result = run_recipe(_recipe(tmp_path, {"name": "hf_dataset"}), tmp_path)
    ds = datasets.load_from_disk(str(result.run_dir / "hf_dataset"))
    assert ds["text"] == [r.data["text"] for r in result.records]
