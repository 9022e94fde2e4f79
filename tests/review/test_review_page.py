"""review.html without a browser: what it embeds, images and thumbnails, samples, the CLI."""

from __future__ import annotations

import json
import re

import pytest
from review_runs import write_images, write_run

from instructgen.cli import main
from instructgen.errors import UserError
from instructgen.report.labels import LABELS_FILE, Label
from instructgen.report.review_page import (
    REVIEW_FILE,
    ROW_COLUMNS,
    THUMBS_DIR,
    ReviewOptions,
    write_review,
)

COL = {name: i for i, name in enumerate(ROW_COLUMNS)}


def embedded(page: str) -> tuple[dict, list[list]]:
    """The page's meta and rows, read back the way the page's script reads them."""
    meta = json.loads(re.search(r'<script type="application/json" id="ig-meta">(.*?)</script>',
                                page, re.S).group(1))
    rows = []
    for chunk in re.findall(r'<script type="application/json" class="ig-chunk">(.*?)</script>',
                            page, re.S):
        rows += json.loads(chunk)
    return meta, rows


def test_every_record_and_rejection_line_is_a_row(judged_run):
    res = judged_run()
    result = write_review(res.run_dir)
    assert result.path == res.run_dir / REVIEW_FILE
    meta, rows = embedded(result.path.read_text())
    assert meta["total"] == len(rows) == len(res.records) + len(res.rejections)
    assert [r[COL["id"]] for r in rows[:len(res.records)]] == [r.id for r in res.records]
    for row, rec in zip(rows, res.records, strict=False):
        assert row[COL["edit"]] == rec.data["edit"] and row[COL["status"]] == 0
        assert meta["types"][row[COL["type"]]] == rec.data["edit_type"]
        assert row[COL["fields"]]["judge_p_yes"] == rec.data["judge_p_yes"]
    for row, rej in zip(rows[len(res.records):], res.rejections, strict=True):
        assert row[COL["status"]] == 1 and meta["reasons"][row[COL["reason"]]] == rej.reason
        assert row[COL["stage"]] == rej.stage and row[COL["detail"]] == rej.detail
    judge_no = next(r for r in rows if r[COL["status"]] == 1
                    and meta["reasons"][r[COL["reason"]]] == "judge_no")
    assert judge_no[COL["edit"]]  # the rejected answer's own instruction, parsed from raw
    assert meta["recipe_hash"] == res.manifest["recipe_hash"]
    assert meta["storage_key"].endswith(res.manifest["recipe_hash"])


def test_page_is_self_contained(judged_run):
    page = write_review(judged_run().run_dir).path.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert not re.search(r"<script[^>]*\ssrc=", page)


def test_model_text_cannot_close_the_script_element(tmp_path):
    hostile = "</script><script>alert(1)</script><!--"
    run = write_run(tmp_path / "run", [{"id": "1", "item_id": "1", "generator": "edit",
                                        "data": {"edit_type": "add", "edit": hostile,
                                                 "input": "a", "output": "b"}}])
    page = write_review(run).path.read_text()
    assert hostile not in page
    _, rows = embedded(page)
    assert rows[0][COL["edit"]] == hostile


def test_a_sample_is_seeded_and_keeps_file_order(judged_run):
    run_dir = judged_run().run_dir

    def ids(seed, n=4):
        page = write_review(run_dir, options=ReviewOptions(sample=n, seed=seed)).path
        return [r[COL["id"]] for r in embedded(page.read_text())[1]]

    everything = [r[COL["id"]] for r in embedded(write_review(run_dir).path.read_text())[1]]
    first = ids(1)
    assert len(first) == 4 and first == ids(1) and first != ids(2)
    assert first == [i for i in everything if i in first]
    assert ids(1, n=1000) == everything  # a sample larger than the run is the whole run


def test_images_are_found_and_thumbnailed_once(judged_run, tmp_path):
    pytest.importorskip("PIL", reason="Pillow is not installed (pip install 'instructgen[report]')")
    from PIL import Image

    res = judged_run()
    write_images(tmp_path / "images", 6)
    opts = ReviewOptions(images=[tmp_path / "images"])
    result = write_review(res.run_dir, options=opts)
    names = {r.data["image_file"] for r in res.records}
    names |= {r.data["image_file"] for r in res.rejections if (r.data or {}).get("image_file")}
    present = {n for n in names if (tmp_path / "images" / n).is_file()}
    assert (result.images_found, result.images_missing) == (len(present), len(names - present))
    assert result.thumbnails_made == len(present) and result.thumbnails_skipped is None
    _, rows = embedded(result.path.read_text())
    for row in rows:
        if row[COL["image_name"]] in present:
            thumb = res.run_dir / row[COL["image"]]
            assert thumb.parent.name == THUMBS_DIR
            with Image.open(thumb) as im:
                assert max(im.size) == 320
        else:
            assert row[COL["image"]] is None
    again = write_review(res.run_dir, options=opts)
    assert again.thumbnails_made == 0 and again.path.read_text() == result.path.read_text()


def test_without_thumbnails_the_originals_are_linked_relatively(judged_run, tmp_path):
    pytest.importorskip("PIL", reason="Pillow is not installed (pip install 'instructgen[report]')")
    res = judged_run()
    write_images(tmp_path / "images", 3)
    out = tmp_path / "pages" / "review.html"
    result = write_review(res.run_dir, out,
                          ReviewOptions(images=[tmp_path / "images"], thumbnails=False))
    assert result.thumbnails_made == 0 and "turned off" in result.thumbnails_skipped
    linked = [r[COL["image"]] for r in embedded(out.read_text())[1] if r[COL["image"]]]
    assert linked and all(link.startswith("../images/img") for link in linked)
    assert all((out.parent / link).is_file() for link in linked)


def test_stored_labels_travel_with_the_page(judged_run):
    res = judged_run()
    rid = res.records[0].id
    (res.run_dir / LABELS_FILE).write_text(
        Label(rid, res.manifest["recipe_hash"], "bad", "rambling").to_json() + "\n")
    meta, _ = embedded(write_review(res.run_dir).path.read_text())
    assert meta["labels"] == {rid: ["bad", "rambling"]}


def test_cli_writes_the_page_and_says_what_it_found(judged_run, tmp_path, capsys):
    pytest.importorskip("PIL", reason="Pillow is not installed (pip install 'instructgen[report]')")
    res = judged_run()
    write_images(tmp_path / "images", 2)
    assert main(["review", str(res.run_dir), "--images", str(tmp_path / "images")]) == 0
    out = capsys.readouterr().out
    assert f"wrote {res.run_dir / REVIEW_FILE}" in out
    assert (f"{len(res.records)} records and {len(res.rejections)} rejection lines") in out
    assert "images: 2 found" in out


@pytest.mark.parametrize("argv, message", [
    (["--images", "{tmp}/nope"], "--images {tmp}/nope: no such folder"),
    (["--sample", "0"], "--sample 0: must be at least 1"),
])
def test_bad_options_are_one_line(judged_run, tmp_path, capsys, argv, message):
    res = judged_run()
    args = [a.format(tmp=tmp_path) for a in argv]
    assert main(["review", str(res.run_dir), *args]) == 2
    err = capsys.readouterr().err
    assert message.format(tmp=tmp_path) in err and err.count("\n") == 1
    assert not (res.run_dir / REVIEW_FILE).exists()


def test_a_folder_that_is_no_run_is_refused(tmp_path):
    with pytest.raises(UserError, match="not a run directory"):
        write_review(tmp_path)


@pytest.mark.parametrize("data, text, before, after", [
    ({"concept": "kite", "caption": "A red kite over a beach."}, "A red kite over a beach.", "",
     ""),
    ({"concept": "kite", "backgrounds": ["a beach", "a park"]}, "a beach; a park", "", ""),
    ({"instruction": "What if it rained?", "original_caption": "A dry street.",
      "target_caption": "A wet street."}, "What if it rained?", "A dry street.",
     "A wet street."),
    ({"edit_type": "multi_turn", "input": "a tree", "output": "a blue bush",
      "turns": [{"edit": "Replace the tree with a bush."}, {"edit": "Make the bush blue."}]},
     "1. Replace the tree with a bush.\n2. Make the bush blue.", "a tree", "a blue bush"),
])
def test_other_generators_cards_take_their_own_fields(tmp_path, data, text, before, after):
    run = write_run(tmp_path / "run", [{"id": "r", "item_id": "r", "generator": "x",
                                        "data": data}])
    (row,) = embedded(write_review(run).path.read_text())[1]
    assert (row[COL["edit"]], row[COL["input"]], row[COL["output"]]) == (text, before, after)
    fields = row[COL["fields"]] or {}
    shown = {k for k, v in data.items() if v in (text, before, after) or k == "backgrounds"}
    assert not shown & set(fields)
    assert ("concept" in fields) == ("concept" in data)
