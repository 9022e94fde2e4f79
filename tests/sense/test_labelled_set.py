"""The committed labelled set (benchmarks/labels/) is well-formed, and the label store's
keys, blind sheets and join behave as docs/labelling.md says."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from instructgen.report.labels import REASONS

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import labelstore  # noqa: E402  (a benchmark script, not a package)


def rows(kind: str) -> list[dict]:
    return labelstore.read(BENCHMARKS / "labels" / f"{kind}.jsonl")


@pytest.mark.parametrize("kind", ["edits", "captions"])
def test_every_label_is_good_or_bad_with_one_known_reason(kind) -> None:
    got = rows(kind)
    assert got, f"benchmarks/labels/{kind}.jsonl is empty"
    for row in got:
        assert row["label"] in ("good", "bad"), row["key"]
        if row["label"] == "bad":
            assert row["reason"] in REASONS, row["key"]
        else:
            assert row["reason"] is None, row["key"]
        assert row["paths"], f"{row['key']} has no path joined back"


def test_edit_keys_are_the_content_keys() -> None:
    for row in rows("edits"):
        assert row["key"] == labelstore.edit_key(row["edit_type"], row["edit"], row["input"],
                                                 row["output"])


def test_caption_keys_are_the_content_keys() -> None:
    for row in rows("captions"):
        assert row["key"] == labelstore.caption_key(row["family"], row["caption"])


def test_the_set_covers_every_llm_type_and_caption_family() -> None:
    from instructgen.plugins.edits import BUILTIN_EDIT_TYPES

    mix = {t.name for t in BUILTIN_EDIT_TYPES if t.default_mix}
    assert mix <= {r["edit_type"] for r in rows("edits")}
    assert {"c2cap", "cb2cap", "cc2cap", "implicit"} <= {r["family"] for r in rows("captions")}
    assert any(p.endswith("turns3") for r in rows("edits") for p in r["paths"])


def test_keys_ignore_spacing_but_not_content() -> None:
    assert labelstore.caption_key("c2cap", "A  red  kite.") == labelstore.caption_key(
        "c2cap", "A red kite.")
    assert labelstore.caption_key("c2cap", "A red kite.") != labelstore.caption_key(
        "cb2cap", "A red kite.")
    a = labelstore.edit_key("add", "Add a cat", "A dog.", "A dog with a cat.")
    assert a != labelstore.edit_key("add", "Add a cat", "A dog.", "A dog and a cat.")


def test_blind_sheet_hides_paths_and_join_brings_them_back(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(labelstore, "LABELS", tmp_path)
    rec = {"key": "k1", "edit_type": "add", "input": "A dog.", "edit": "Add a cat",
           "output": "A dog with a cat.", "fields": {"edited_object": "cat"}}
    assert labelstore.add_pending("edits", [{**rec, "paths": ["rules/seed17/turns1"]}]) == 1
    assert labelstore.add_pending("edits", [{**rec, "paths": ["rules/seed18/turns1"]}]) == 0
    sheet = labelstore.sheet("edits")
    (row,) = labelstore.read(sheet)
    assert "paths" not in row and row["label"] is None
    sheet.write_text(json.dumps({**row, "label": "bad", "reason": "no_such_reason"}) + "\n")
    with pytest.raises(SystemExit, match="reason"):
        labelstore.join("edits")
    sheet.write_text(json.dumps({**row, "label": "good", "reason": None}) + "\n")
    assert labelstore.join("edits") == 1
    (joined,) = labelstore.read(tmp_path / "edits.jsonl")
    assert joined["paths"] == ["rules/seed17/turns1", "rules/seed18/turns1"]
    assert labelstore.read(tmp_path / "pending-edits.jsonl") == []
