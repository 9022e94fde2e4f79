"""review.html in headless Chromium: filter, label with keys, export, import, report.

Runs Debian's Chromium through playwright (never a downloaded browser); skips
with the reason when either is missing. ``.ci/run`` installs both.
"""

from __future__ import annotations

import json

import pytest

from instructgen.cli import main
from instructgen.report.labels import REASONS
from instructgen.report.precision import Proportion
from instructgen.report.review_page import ReviewOptions, write_review


@pytest.fixture
def open_page(browser):
    """``open_page(path)``: the page loaded from file://, its requests and script errors."""
    contexts = []

    def go(path):
        context = browser.new_context(accept_downloads=True, viewport={"width": 1200,
                                                                       "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.seen_urls, page.errors = [], []
        page.on("request", lambda req: page.seen_urls.append(req.url))
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.goto(path.as_uri())
        page.wait_for_selector("body[data-loaded='1']")
        return page

    yield go
    for context in contexts:
        context.close()


@pytest.mark.slow
def test_filter_label_with_keys_export_import_and_report(judged_run, open_page, tmp_path,
                                                         capsys):
    res = judged_run()
    page = open_page(write_review(res.run_dir).path)
    assert page.locator(".card").count() == len(res.records) + len(res.rejections)

    page.select_option("#f-reason", label="judge_no")
    judge_no = [r for r in res.rejections if r.reason == "judge_no"]
    assert page.locator(".card").count() == len(judge_no) >= 1
    page.select_option("#f-reason", label="all")
    page.select_option("#f-type", label="add")
    page.select_option("#f-status", label="accepted")
    added = [r for r in res.records if r.data["edit_type"] == "add"]
    assert len(added) >= 3
    assert page.locator(".card").count() == len(added)
    assert page.locator(".card .id").all_inner_texts() == [r.id for r in added]

    for key in ("g", "j", "b", "3", "j", "g"):
        page.keyboard.press(key)
    assert page.locator(".card.good").count() == 2 and page.locator(".card.bad").count() == 1
    with page.expect_download() as download:
        page.click("#export")
    exported = tmp_path / "labels.jsonl"
    download.value.save_as(exported)
    assert download.value.suggested_filename == "labels.jsonl"
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    recipe_hash = res.manifest["recipe_hash"]
    assert lines == [
        {"record_id": added[0].id, "recipe_hash": recipe_hash, "label": "good", "reason": None},
        {"record_id": added[1].id, "recipe_hash": recipe_hash, "label": "bad",
         "reason": REASONS[2]},
        {"record_id": added[2].id, "recipe_hash": recipe_hash, "label": "good", "reason": None},
    ]
    assert all(url.startswith(("file:", "blob:", "data:")) for url in page.seen_urls)
    assert page.errors == []

    page.reload()  # the browser kept the labels
    page.wait_for_selector("body[data-loaded='1']")
    assert page.inner_text("#tally").startswith("3 labelled (2 good, 1 bad)")

    assert main(["review", "--import", str(exported), str(res.run_dir)]) == 0
    assert main(["report", str(res.run_dir), "--no-charts"]) == 0
    capsys.readouterr()
    report = (res.run_dir / "report.md").read_text()
    good = sum(line["label"] == "good" for line in lines)
    precision = Proportion.of(good, len(lines)).text()
    assert f"| precision of accepted records [95% CI] | {precision} |" in report
    assert f"| precision: add | {precision} |" in report
    assert f"| accepted records labelled | {len(lines)} |" in report


@pytest.mark.slow
def test_j_and_k_cross_pages_and_a_click_labels(judged_run, open_page):
    res = judged_run()
    page = open_page(write_review(res.run_dir, options=ReviewOptions(page_size=2)).path)
    total = len(res.records) + len(res.rejections)
    pages = -(-total // 2)
    assert page.inner_text("#page") == f"page 1 of {pages}"
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert page.inner_text("#page") == f"page 2 of {pages}"
    assert page.inner_text(".card.focus .id") == res.records[2].id
    page.keyboard.press("k")
    assert page.inner_text("#page") == "page 1 of 2".replace("2", str(pages), 1)
    page.locator(".card").nth(0).locator("button.bad").click()
    page.locator(".card").nth(0).locator("select.reason").select_option("rambling")
    assert page.locator(".card.bad").count() == 1
    page.select_option("#f-label", label="bad")
    assert page.locator(".card .id").all_inner_texts() == [res.records[0].id]
    assert page.errors == []
