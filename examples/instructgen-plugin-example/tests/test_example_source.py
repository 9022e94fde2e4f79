"""The ``tsv_captions`` source: stable ids, skipped rows counted by reason, clear errors."""

from __future__ import annotations

import pytest
from instructgen import UserError

from instructgen_example import plugin
from instructgen_example.source import TsvCaptions, TsvCaptionsOptions


def test_registered_under_its_name(registry_with):
    spec = registry_with(plugin).get("source", "tsv_captions")
    assert spec.factory is TsvCaptions and spec.options is TsvCaptionsOptions


def test_bundled_sample_skips_bad_rows_and_counts_them():
    source = TsvCaptions(TsvCaptionsOptions())
    items = list(source)
    assert [i.id for i in items][:2] == ["p001.jpg", "p002.jpg"]
    assert len(items) == 8
    assert all(i.data["caption"] and i.data["image_file"] == i.id for i in items)
    assert source.stats() == {"skipped_empty_caption": 1, "skipped_wrong_column_count": 1}


def test_own_file_with_other_columns_and_a_repeated_image(tmp_path):
    path = tmp_path / "caps.tsv"
    path.write_text("file\ttext\tlicense\n"
                    "a.jpg\tA red kite over a hill.\tcc-by\n"
                    "a.jpg\tThe same image again.\tcc-by\n"
                    "\tA caption without an image.\tcc0\n")
    source = TsvCaptions(TsvCaptionsOptions(path=path, caption_column="text",
                                            image_column="file"))
    items = list(source)
    assert [i.id for i in items] == ["a.jpg", "line-4"]
    assert items[0].extra == {"license": "cc-by"}  # unknown columns travel on
    assert source.stats() == {"skipped_duplicate_image": 1}


def test_missing_file_and_missing_column_name_the_problem(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        TsvCaptions(TsvCaptionsOptions(path=tmp_path / "nope.tsv"))
    path = tmp_path / "caps.tsv"
    path.write_text("image\tcaption\nx.jpg\tA cat.\n")
    with pytest.raises(UserError, match=r"caps.tsv:1: no column 'image_file'"):
        list(TsvCaptions(TsvCaptionsOptions(path=path)))
