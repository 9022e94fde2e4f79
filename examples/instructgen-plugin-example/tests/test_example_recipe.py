"""The shipped recipe uses all three parts of the package and runs on the fake backend."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from instructgen.testing import load_recipe_file

from instructgen_example import plugin

RECIPE = Path(__file__).parents[1] / "recipe.toml"


def test_the_example_recipe(run_recipe):
    recipe = load_recipe_file(RECIPE)
    res = run_recipe(recipe, plugins=[plugin])
    assert res.summary.status == "finished"
    # all three parts are in the manifest's plugin list
    plugins = res.manifest["plugins"]
    assert {"source:tsv_captions", "postprocessor:word_blocklist"} <= set(plugins)
    assert {r.data["edit_type"] for r in res.records} == {"expression_change"}
    assert sorted(r.item_id for r in res.records) == ["p001.jpg", "p002.jpg", "p004.jpg",
                                                      "p007.jpg", "p008.jpg"]
    reasons = Counter((r.stage, r.reason) for r in res.rejections)
    assert reasons[("postprocess", "blocked_word")] == 1  # the angry man
    assert res.manifest["source_stats"] == {"skipped_empty_caption": 1,
                                            "skipped_wrong_column_count": 1}
    assert not (RECIPE.parent / "runs").exists()  # nothing was written next to the recipe
