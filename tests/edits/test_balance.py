"""Acceptance per edit type in the report, and ``balance = "accepted"``."""

from __future__ import annotations

import json

import pytest
from edit_fakes import FAKE, Scripted, jsonl_source, type_of

from instructgen.backends.fake import FakeBackend
from instructgen.errors import RecipeError
from instructgen.report import write_report
from instructgen.report.metrics import compute_metrics, rejection_edit_type
from instructgen.report.rundata import load_run

CAPTIONS = ["A dog sleeping on a couch.", "A cat sitting on a fence.",
            "A man riding a horse.", "A bird standing on a rock.",
            "A boy holding a kite.", "A woman reading a book.",
            "A car parked near a tree.", "A bowl of soup on a table."]
ROWS = [{"id": str(i), "caption": c} for i, c in enumerate(CAPTIONS)]


def remove_ok_colour_bad(caption, req):
    *rest, last = caption.rstrip(".").split()
    if type_of(req) == "remove an object":
        return {"edit": f"Remove the {last}.", "edited_object": last,
                "output": " ".join(rest[:-2]) + "."}
    # A colour edit without "to <colour>": outside the schema, and fails the check.
    return {"edit": f"Paint the {last} blue.", "edited_object": last,
            "output": caption.replace(last, f"blue {last}")}


def recipe(tmp_path, name, **generator):
    return {"seed": 11, "batch_size": 3, "max_retries": 0, "backend": FAKE,
            "output_dir": str(tmp_path / name),
            "source": jsonl_source(tmp_path / f"{name}.jsonl", ROWS),
            "generator": {"name": "edit", "types": ["remove", "color_alter"], "attempts": 1,
                          "judge": False, "compose": "model", **generator}}


@pytest.fixture
def first_run(tmp_path, run_recipe):
    run_recipe(recipe(tmp_path, "first"), backend=FakeBackend(responder=Scripted(
        edit=remove_ok_colour_bad)))
    return tmp_path / "first"


def test_report_shows_acceptance_per_edit_type(first_run):
    run = load_run(first_run)
    table = compute_metrics(run).edit_type_acceptance
    assert set(table) == {"remove", "color_alter"}
    got, ended = table["remove"]
    assert got == ended > 0  # every remove edit was accepted
    assert table["color_alter"][0] == 0 and table["color_alter"][1] > 0
    assert sum(n for _, n in table.values()) == len(ROWS)  # every item ended on one type
    result = write_report([first_run], charts=False)
    text = result.markdown.read_text() if hasattr(result, "markdown") else \
        (first_run / "report.md").read_text()
    assert "### Acceptance per edit type" in text
    assert f"| remove | {got} / {ended} (100" in text
    js = json.loads((first_run / "report.json").read_text())
    assert js["runs"][0]["edit_type_acceptance"]["color_alter"][0] == 0


def test_a_rejection_names_its_type_by_data_or_detail_prefix():
    assert rejection_edit_type({"data": {"edit_type": "add"}, "detail": "x"}) == "add"
    assert rejection_edit_type({"detail": "turn 2 of 3: remove: no noun"}) == "remove"
    assert rejection_edit_type({"detail": "the caption is empty"}) is None


def test_balance_accepted_asks_the_often_failing_type_more(first_run, tmp_path, run_recipe):
    counts = {}
    for balance in ("weights", "accepted"):
        over = {"balance": balance, "balance_from": str(first_run)} if balance == "accepted" \
            else {}
        script = Scripted(edit=remove_ok_colour_bad)
        run_recipe(recipe(tmp_path, balance, **over), backend=FakeBackend(responder=script))
        kinds = [type_of(r) for r in script.edit_requests]
        counts[balance] = kinds.count("colour change") / len(kinds)
    assert counts["accepted"] > counts["weights"]


def test_balanced_draw_does_not_depend_on_batch_size(first_run, tmp_path, run_recipe):
    outs = []
    for batch in (1, 5):
        r = recipe(tmp_path, f"b{batch}", balance="accepted", balance_from=str(first_run))
        r["batch_size"] = batch
        run_recipe(r, backend=FakeBackend(responder=Scripted(edit=remove_ok_colour_bad)))
        lines = (tmp_path / f"b{batch}" / "records.jsonl").read_text().splitlines()
        rejected = (tmp_path / f"b{batch}" / "rejects.jsonl").read_text().splitlines()
        outs.append(([json.loads(x)["data"] for x in lines],
                     [json.loads(x)["reason"] for x in rejected]))
    assert outs[0] == outs[1]
    assert len(outs[0][0]) + len(outs[0][1]) == len(ROWS)


@pytest.mark.reliability(failure="balance = 'accepted' names a run directory that is not one",
                         user_sees="generator.balance_from: <dir>: not a run directory",
                         exit_code=2, kept="nothing was started")
def test_balance_from_a_missing_run_is_a_recipe_error(tmp_path, run_recipe):
    with pytest.raises(RecipeError, match=r"generator\.balance_from: .*not a run directory"):
        run_recipe(recipe(tmp_path, "x", balance="accepted",
                          balance_from=str(tmp_path / "nope")), backend=FakeBackend())


def test_balance_accepted_without_a_run_is_refused(tmp_path, run_recipe):
    with pytest.raises(RecipeError, match="balance_from"):
        run_recipe(recipe(tmp_path, "y", balance="accepted"), backend=FakeBackend())
