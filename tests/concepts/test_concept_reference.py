"""The reference's pool files and cc2cap behaviour (issue 12, points 4, 5 and 8)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from concept_answers import caption_for

from instructgen.cli import main
from instructgen.plugins.concepts.backgrounds import C2bOptions
from instructgen.plugins.concepts.captions import Cb2capOptions, concept_caption_prompt
from instructgen.plugins.concepts.compose import Cc2capOptions, append_background
from instructgen.plugins.concepts.pool import PoolError, load_pool

# -- point 4: cc2cap -----------------------------------------------------------------------

PREPOSITIONAL = ["on the shipbuilding area", "in a crowded market", "at the train station",
                 "under a bridge", "beside a frozen lake", "in a dusty attic",
                 "on a rooftop garden", "near a lighthouse", "inside a greenhouse",
                 "at a night market", "on a sandy beach", "in a bamboo forest",
                 "on the shipbuilding area"]  # a duplicate: never two variants of it
BARE = ["snowy field", "old barn", "harbor", "pet store", "quiet library", "orchard",
        "parking lot", "subway platform", "desert road", "forest clearing", "rooftop"]


def _cc2cap(run_recipe, fake_backend, pool_path, seed=3, **generator):
    return run_recipe({"source": {"name": "concept_pairs", "path": str(pool_path)},
                       "generator": {"name": "cc2cap", "compose": "model", **generator},
                       "backend": {"name": "fake"}, "seed": seed},
                      backend=fake_backend(responder=lambda r: json.dumps(
                          {"caption": caption_for(r)})), fresh=True)


@pytest.mark.parametrize("backgrounds", [PREPOSITIONAL, BARE], ids=["prepositions", "bare"])
def test_cc2cap_makes_ten_distinct_seeded_variants(pool_file, run_recipe, fake_backend,
                                                   backgrounds):
    # concept.json's shape: shared backgrounds for the whole pool.
    path = pool_file({"concepts": ["wok", "toad"], "backgrounds": backgrounds}, "concept.json")
    first = _cc2cap(run_recipe, fake_backend, path)
    rows = first.data
    assert len(rows) == 10
    assert len({r["background"] for r in rows}) == 10
    for r in rows:
        base = r["base_caption"].rstrip(".")
        if backgrounds is PREPOSITIONAL:
            assert r["caption"] == f"{base} {r['background']}."  # as written
            assert " in an on " not in r["caption"] and " in a on " not in r["caption"]
        else:
            assert r["caption"].startswith(f"{base} in ")
            assert r["caption"].endswith(f" {r['background']}.")
    again = _cc2cap(run_recipe, fake_backend, path)
    assert [r["caption"] for r in again.data] == [r["caption"] for r in rows]


def test_append_background_as_written_or_with_a_preposition():
    assert append_background("A wok and a toad.", "on the shipbuilding area") == \
        "A wok and a toad on the shipbuilding area."
    assert append_background("A wok and a toad.", "snowy field") == \
        "A wok and a toad in a snowy field."


# -- point 5: every pool shape of the reference ---------------------------------------------


def test_dataset_classes_and_concept_backgrounds_need_the_shape_option(pool_file):
    path = pool_file({"cifar10": ["airplane", "automobile", "bird"],
                      "food101": ["apple pie", "bird"]}, "classname.json")
    with pytest.raises(PoolError) as err:
        load_pool([path])
    message = str(err.value)
    assert str(path) in message and 'shape = "dataset_classes"' in message
    assert "\n" not in message
    pool = load_pool([path], shape="dataset_classes")
    assert [c.name for c in pool] == ["airplane", "automobile", "bird", "apple pie"]
    assert all(c.backgrounds == [] for c in pool)
    assert pool.get("apple pie").notes == {"dataset": "food101"}
    synclr = load_pool([path], shape="concept_backgrounds")
    assert synclr.get("cifar10").backgrounds == ["airplane", "automobile", "bird"]


@pytest.mark.reliability(
    failure="a concept pool of the ambiguous {key: [strings]} shape with shape = \"auto\"",
    user_sees="one line naming the file and the option: `synclr.json: {key: [strings]} is either "
              "{concept: [backgrounds]} (SynCLR) or {dataset: [classes]} (classname.json); set "
              "shape = \"concept_backgrounds\" or shape = \"dataset_classes\"`",
    exit_code=2, kept="nothing is generated; no records are written")
def test_recipe_with_the_ambiguous_shape_exits_2_naming_the_option(pool_file, tmp_path, capsys):
    path = pool_file({"dog": ["park", "beach"]}, "synclr.json")
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'output_dir = "{tmp_path / "out"}"\n[source]\nname = "concept_pool"\n'
                      f'path = "{path}"\n[generator]\nname = "c2cap"\n'
                      f'[backend]\nname = "fake"\n')
    assert main(["run", str(recipe)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0]
    assert 'set shape = "concept_backgrounds" or shape = "dataset_classes"' in err[0]
    assert not (tmp_path / "out" / "records.jsonl").exists()


def test_concept_pool_json_with_b_and_c(pool_file):
    path = pool_file({"sheepdog": {"b": ["on a farm", "in a meadow"], "c": "animal"},
                      "teapot": {"b": ["on a kitchen counter"], "c": "object"}},
                     "concept_pool.json")
    pool = load_pool([path])
    assert pool.get("sheepdog").backgrounds == ["on a farm", "in a meadow"]
    assert pool.get("teapot").notes == {"c": "object"}


def test_c2b_csv_reads_concepts_with_background_lists(pool_file):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["concept", "caption"])
    writer.writerow(["sheepdog", "farm, meadow, dog show, hillside"])
    writer.writerow(["teapot", "kitchen counter, tea shop"])
    path = pool_file(out.getvalue(), "1_c2b.csv")
    pool = load_pool([path])
    assert [c.name for c in pool] == ["sheepdog", "teapot"]
    assert pool.get("sheepdog").backgrounds == ["farm", "meadow", "dog show", "hillside"]
    bad = pool_file("concept1,concept2,caption\na,b,A and B.\n", "cc.csv")
    with pytest.raises(PoolError, match="concept,caption"):
        load_pool([bad])


# -- point 8: the reference's defaults and intent ------------------------------------------


def test_reference_caption_defaults():
    assert Cb2capOptions().max_words == 12 and Cc2capOptions().max_words == 12
    assert Cc2capOptions().append_backgrounds == 10
    assert C2bOptions().target == 50


def test_c2cap_asks_for_no_other_objects():
    system = concept_caption_prompt("teapot", 12)[0].content
    assert "no other object" in system
