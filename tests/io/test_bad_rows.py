"""``on_bad_row``: a broken row stops the run by default, or is skipped, counted and logged."""

from __future__ import annotations

import json

import pytest

from instructgen.cli import main
from instructgen.errors import UserError
from instructgen.plugins.datasets.captions import CaptionsOptions, CaptionsSource
from instructgen.plugins.datasets.shape import DatasetError
from instructgen.plugins.io.jsonl import JsonlSource, JsonlSourceOptions

GOOD = '{"caption": "a red cup", "key": "k1"}\n'
DUMP = (GOOD
        + '{"caption": "a blue \n'                       # line 2: cut off
        + b'{"caption": "caf\xe9"}\n'.decode("latin-1")   # line 3: not UTF-8 once encoded
        + '["a list"]\n'                                  # line 4: not an object
        + '{"caption": "a green cup", "key": "k5"}\n')


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1"))
    return path


class _Log:
    def __init__(self):
        self.events = []

    def warning(self, event, **kw):
        self.events.append((event, kw))


@pytest.mark.reliability(failure="a line of a JSONL source is not a JSON object",
                         user_sees="instructgen: error: FILE:LINE: not valid JSON (...) "
                                   "(set source.on_bad_row = \"skip\" to skip bad rows)",
                         exit_code=2, kept="the source file; nothing is written")
def test_jsonl_source_stops_at_the_first_bad_line_by_default(tmp_path, capsys):
    path = _write(tmp_path, "dump.jsonl", DUMP)
    with pytest.raises(UserError, match=r"dump.jsonl:2: not valid JSON .*on_bad_row"):
        list(JsonlSource(JsonlSourceOptions(path=path)))
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'output_dir = "{tmp_path / "run"}"\n[source]\nname = "jsonl"\n'
                      f'path = "{path}"\n[generator]\nname = "prompt"\n'
                      f'template = "{{caption}}"\n[backend]\nname = "fake"\n')
    assert main(["-qq", "run", str(recipe), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("instructgen: error: ")
    assert "dump.jsonl:2: not valid JSON" in err[0]


@pytest.mark.reliability(failure="bad lines in a large JSONL dump, with on_bad_row = \"skip\"",
                         user_sees="a bad_row_skipped warning per line (file, line, problem); "
                                   "bad_rows_skipped in the manifest and the report",
                         exit_code=0, kept="every good row's records")
def test_jsonl_source_skips_counts_and_logs_each_bad_line(tmp_path):
    path = _write(tmp_path, "dump.jsonl", DUMP)
    src = JsonlSource(JsonlSourceOptions(path=path, id_field="key", on_bad_row="skip"))
    src.bad_rows.log = log = _Log()
    assert [i.id for i in src] == ["k1", "k5"]
    assert src.stats() == {"bad_rows_skipped": 3}
    assert [(kw["at"], kw["problem"][:14]) for _, kw in log.events] == [
        ("2", "not valid JSON"), ("3", "not valid UTF-"), ("4", "expected a JSO")]
    assert list(src) and src.stats() == {"bad_rows_skipped": 3}  # a second pass recounts


def test_jsonl_source_missing_id_is_a_bad_row(tmp_path):
    path = _write(tmp_path, "ids.jsonl", GOOD + '{"caption": "no key"}\n')
    with pytest.raises(UserError, match=r"ids.jsonl:2: missing id field 'key'"):
        list(JsonlSource(JsonlSourceOptions(path=path, id_field="key")))
    src = JsonlSource(JsonlSourceOptions(path=path, id_field="key", on_bad_row="skip"))
    src.bad_rows.log = _Log()
    assert [i.id for i in src] == ["k1"] and src.stats() == {"bad_rows_skipped": 1}


def test_captions_jsonl_skips_bad_lines_and_keeps_row_numbers(tmp_path):
    path = _write(tmp_path, "c.jsonl", DUMP + '{"text": "no caption"}\n')
    with pytest.raises(DatasetError, match=r"c.jsonl: line 2: not valid JSON"):
        list(CaptionsSource(CaptionsOptions(path=path)))
    src = CaptionsSource(CaptionsOptions(path=path, on_bad_row="skip"))
    src.bad_rows.log = log = _Log()
    items = list(src)
    assert [i.data["caption"] for i in items] == ["a red cup", "a green cup"]
    assert [i.id for i in items] == ["1", "5"]  # ids do not shift past a skipped row
    assert src.stats() == {"bad_rows_skipped": 4}
    assert [kw["at"] for _, kw in log.events] == ["line 2", "line 3", "line 4", "line 6"]


@pytest.mark.reliability(failure="a CSV row with too many fields or bytes that are not UTF-8",
                         user_sees="FILE: row N (line L): N fields, the header has M (an "
                                   "unquoted ',' in a value?); with skip, a warning per row",
                         exit_code=2, kept="the source file; with skip, every good row")
def test_csv_bad_rows_stop_or_skip(tmp_path):
    text = ('caption,url\n"a red cup",http://a\n'
            'a cup, with a comma,http://b\n'     # row 2: three fields
            '"a two-line\ncaption",http://c\n'   # row 3: fine, spans lines 4-5
            'caf\xe9,http://d\n'                 # row 4: not UTF-8
            'a green cup,http://e\n')
    path = _write(tmp_path, "c.csv", text)
    with pytest.raises(DatasetError, match=r"c.csv: row 2 \(line 3\): 3 fields, the header") as err:
        list(CaptionsSource(CaptionsOptions(path=path)))
    assert err.value.exit_code == 2 and "\n" not in str(err.value)
    src = CaptionsSource(CaptionsOptions(path=path, on_bad_row="skip"))
    src.bad_rows.log = log = _Log()
    items = list(src)
    assert [i.data["caption"] for i in items] == ["a red cup", "a two-line\ncaption",
                                                 "a green cup"]
    assert [i.id for i in items] == ["1", "3", "5"]
    assert [kw["at"] for _, kw in log.events] == ["row 2 (line 3)", "row 4 (line 6)"]
    assert src.stats() == {"bad_rows_skipped": 2}


def test_a_csv_header_without_the_caption_column_stops_even_with_skip(tmp_path):
    path = _write(tmp_path, "h.csv", "text,url\nhello,http://x\n")
    with pytest.raises(DatasetError, match=r"h.csv: header, column 'caption': missing"):
        list(CaptionsSource(CaptionsOptions(path=path, on_bad_row="skip")))


def test_parquet_rows_without_a_caption_are_skipped(tmp_path):
    pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed")
    import pyarrow.parquet as pq

    path = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pylist([{"caption": "a cup", "k": 1}, {"k": 2},
                                         {"caption": "a dog", "k": 3}]), path)
    src = CaptionsSource(CaptionsOptions(path=path, on_bad_row="skip"))
    src.bad_rows.log = _Log()
    assert [i.data["caption"] for i in src] == ["a cup", "a dog"]
    assert src.stats() == {"bad_rows_skipped": 1}


def test_the_skip_count_reaches_the_manifest_and_the_report(tmp_path, run_recipe):
    path = _write(tmp_path, "dump.jsonl", DUMP)
    result = run_recipe({
        "source": {"name": "jsonl", "path": str(path), "on_bad_row": "skip"},
        "generator": {"name": "prompt", "template": "Shorten: {caption}"},
        "backend": "fake",
    })
    assert result.summary.items == 2
    assert result.manifest["source_stats"] == {"bad_rows_skipped": 3}
    assert main(["report", str(result.run_dir), "--no-charts"]) == 0
    report = (result.run_dir / "report.md").read_text()
    line = next(x for x in report.splitlines() if "bad_rows_skipped" in x)
    assert "3" in line


def test_manifest_keeps_no_count_when_nothing_can_be_skipped(tmp_path, run_recipe):
    path = _write(tmp_path, "ok.jsonl", GOOD)
    result = run_recipe({
        "source": {"name": "jsonl", "path": str(path)},
        "generator": {"name": "prompt", "template": "{caption}"},
        "backend": "fake",
    })
    assert json.loads((result.run_dir / "manifest.json").read_text())["source_stats"] == {}


def test_skipped_rows_are_logged_by_the_run_logger(tmp_path, capsys):
    """The warnings follow --log-format json and -q like every other run event."""
    path = _write(tmp_path, "dump.jsonl", DUMP)
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'output_dir = "{tmp_path / "run"}"\n[source]\nname = "jsonl"\n'
                      f'path = "{path}"\non_bad_row = "skip"\n[generator]\nname = "prompt"\n'
                      f'template = "{{caption}}"\n[backend]\nname = "fake"\n')
    assert main(["--log-format", "json", "run", str(recipe), "--no-progress"]) == 0
    events = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    skipped = [e for e in events if e["event"] == "bad_row_skipped"]
    assert [e["at"] for e in skipped] == ["2", "3", "4"]
    assert main(["-qq", "run", str(recipe), "--no-progress", "--fresh"]) == 0
    assert "bad_row_skipped" not in capsys.readouterr().err
