"""Structural checks shared by the example-recipe tests (fake backend and real model)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from instructgen.plugins.edits import BUILTIN_EDIT_TYPES

FIELDS = {t.name: t.fields for t in BUILTIN_EDIT_TYPES}
STAGES = {"input", "prefilter", "generate", "consistency", "judge", "rules"}
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "edits"
LLM_RECIPES = ["single", "mix", "multi_turn", "textual"]
RULE_RECIPES = ["rules_from_records", "rules_from_captions", "rules_from_instances"]


def check_edit(edit: dict[str, Any], types: list[str]) -> None:
    assert edit["edit_type"] in types
    for key in ("edit", "input", "output", *FIELDS[edit["edit_type"]]):
        assert isinstance(edit[key], str) and edit[key].strip(), key
    assert edit["output"] != edit["input"]


def check_run(res: Any, recipe: dict[str, Any]) -> None:
    """Counts add up, records have their fields, the AnyEdit file matches the records."""
    gen = recipe["generator"]
    assert res.summary.status == "finished"
    if gen["name"] == "edit":
        assert res.summary.accepted + res.summary.rejected_items == res.summary.items
        for rec in res.data:
            assert rec.get("image_file")
            if gen.get("turns", 1) > 1:
                assert rec["edit_type"] == "multi_turn" and len(rec["turns"]) == gen["turns"]
                for prev, cur in itertools.pairwise(rec["turns"]):
                    assert cur["input"] == prev["output"]
                for turn in rec["turns"]:
                    check_edit(turn, gen["types"])
            else:
                check_edit(rec, gen["types"])
    else:
        for rec in res.data:
            assert rec["edit_type"] in gen["types"] and rec["derived_from"]["item_id"]
    for rej in res.rejections:
        assert rej.stage in STAGES and rej.reason
    lines = (res.run_dir / "anyedit.jsonl").read_text().splitlines()
    assert len(lines) == res.summary.accepted
    assert all("edit_type" in json.loads(line) for line in lines)
