"""The dataset card says what made the data, its size, types and limits."""

from __future__ import annotations

import json

from report_runs import RECORDS, REJECTIONS, manifest, write_run

from instructgen.report import write_card
from instructgen.report.card import size_category


def test_card_of_a_hand_made_run(tmp_path):
    run = write_run(tmp_path / "mydata", RECORDS, REJECTIONS)
    path = write_card(run)
    assert path == run / "README.md"
    card = path.read_text()
    front, body = card.split("---\n", 2)[1:]
    assert "size_categories:\n- n<1K" in front and "pretty_name:" in front
    assert "- image-editing" in front  # the records have edit types
    m = manifest()
    for fact in ("`smollm2-135m-instruct`", "`llamacpp`", f"`{m['recipe_hash']}`",
                 "| `generator:edit` | instructgen 0.1.0 |", "| seed | 7 |",
                 "| model sha256 | `f00d` |", "| model quantization | `Q4_1` |",
                 "`coco` (caps.json)", "| accepted records | 4 |", "| items read | 6 |"):
        assert fact in body, fact
    # types with their shares, computed from the records
    assert "| replace | 2 | 50.0% |" in body and "| remove | 1 | 25.0% |" in body
    # the recipe is embedded as JSON, exactly
    recipe_block = body.split("### Recipe")[1].split("```json\n")[1].split("```")[0]
    assert json.loads(recipe_block) == m["recipe"]
    limits = body.split("## Known limits")[1]
    assert "very small model" in limits
    assert "66.7% of the 6 items read produced accepted records" in limits
    assert "self-check judge is the same model" in limits
    assert "fake" not in limits


def test_card_of_a_fake_run_warns_it_is_test_data(edit_run, tmp_path):
    res = edit_run()
    card = write_card(res.run_dir, tmp_path / "cards" / "card.md").read_text()
    assert "Made with the `fake` backend" in card
    assert f"| accepted records | {len(res.records)} |" in card
    assert "| `edit` | str |" in card  # the fields table lists payload keys with types
    # the judge was off in this recipe, so the card does not claim one
    assert "self-check judge" not in card


def test_unfinished_run_is_called_partial(tmp_path):
    run = write_run(tmp_path / "r", RECORDS, REJECTIONS, manifest(status="interrupted"))
    assert "status is `interrupted`: the set is partial" in write_card(run).read_text()


def test_size_categories_follow_the_hub_buckets():
    assert [size_category(n) for n in (0, 999, 1000, 54_321, 2_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "1M<n<10M"]
