"""Run directories for the report tests: hand-made ones, and a scripted edit run."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from instructgen.backend import LLMRequest


def record(item_id: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": item_id, "item_id": item_id, "generator": "edit", "data": data,
            "provenance": None, "extra": extra}


def rejection(item_id: str, stage: str, reason: str) -> dict[str, Any]:
    return {"item_id": item_id, "stage": stage, "plugin": "edit", "reason": reason,
            "detail": "", "raw": None, "data": None}


def manifest(**over: Any) -> dict[str, Any]:
    base = {
        "run_dir": "x", "recipe": {"source": {"name": "coco", "path": "caps.json"},
                                   "generator": {"name": "edit", "judge": True}},
        "recipe_hash": "abc123", "plugins": {"generator:edit": "instructgen 0.1.0",
                                             "source:coco": "instructgen 0.1.0"},
        "backend": {"name": "llamacpp", "model": "smollm2-135m-instruct", "sha256": "f00d",
                    "quantization": "Q4_1", "settings": {"n_ctx": 2048}},
        "seed": 7, "instructgen_version": "0.1.0", "status": "finished",
        "started_at": "2025-01-01T00:00:00+0000", "finished_at": "2025-01-01T00:01:00+0000",
        "counts": {"items": 6, "accepted": 4, "rejected": 5, "rejected_items": 2,
                   "backend_calls": 3, "requests": 20, "cache_hits": 2, "invalid_answers": 5,
                   "prompt_tokens": 1000, "completion_tokens": 300},
        "rejection_reasons": {}, "source_stats": {"skipped_no_caption": 3},
        "throughput": {"items_per_s": 1.5, "tokens_per_s": 75.0, "backend_share": 0.9},
        "sessions": [{"elapsed_s": 3.0}, {"elapsed_s": 1.0}],
    }
    base.update(over)
    return base


def write_run(path: Path, records: list[dict[str, Any]], rejections: list[dict[str, Any]],
              man: dict[str, Any] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "manifest.json").write_text(json.dumps(man or manifest()))
    (path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (path / "rejects.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rejections))
    return path


#: Six items: 1-3 accepted (item 3 after a retried judge "no"), 4 lost at consistency,
#: 5 lost at judge, 6 accepted but one of its two records dropped by a post-processor.
RECORDS = [
    record("1", {"edit_type": "replace", "edit": "Replace the dog with a cat.",
                 "edited_object": "the dog", "new_object": "cat", "input": "a dog",
                 "output": "a cat"}),
    record("2", {"edit_type": "remove", "edit": "Remove the dog.", "edited_object": "Dog",
                 "input": "a dog", "output": "nothing"}),
    record("3", {"edit_type": "replace", "edit": "replace the red car with a bus",
                 "edited_object": "red car", "new_object": "bus", "input": "a red car",
                 "output": "a bus"}, source="laion"),
    record("6", {"edit_type": "multi_turn", "input": "a tree", "output": "a blue bush",
                 "turns": [{"edit_type": "replace", "edit": "Replace the tree with a bush.",
                            "edited_object": "tree"},
                           {"edit_type": "color_alter", "edit": "Make the bush blue.",
                            "edited_object": "bush"}]}),
]
REJECTIONS = [
    rejection("3", "judge", "judge_no"),
    rejection("4", "consistency", "edited_object_not_in_input"),
    rejection("4", "consistency", "output_unchanged"),
    rejection("5", "generate", "invalid_output"),
    rejection("5", "judge", "judge_no"),
    rejection("6", "postprocess", "too_long"),
]


# -- a scripted run of the edit generator -----------------------------------------------

CAPTIONS = [
    "A dog sleeping on a couch.", "A red car parked by a fence.", "Two cats on a windowsill.",
    "A man riding a horse on a beach.", "A bowl of apples on a table.",
    "A boat floating on a lake.", "A child flying a kite in a park.",
    "A bus stopped at a station.", "A woman holding an umbrella in the rain.",
    "A plate of pasta next to a glass.", "BROKEN caption that gets unparseable answers.",
    "A bicycle leaning on a wall.", "A dog sleeping on a couch.", "A dog sleeping on a couch.",
]
_SPARE = ("lamp", "vase", "drum", "globe", "bucket", "teapot")


def answer(req: LLMRequest) -> str:
    """Valid edits for every caption but one, which always gets non-JSON.

    The review tests script their judged run with it too (``review_runs``).
    """
    caption = req.messages[-1].content.removeprefix("Caption: ")
    if caption.startswith("BROKEN"):
        return "sorry, I cannot do that"
    words = caption.rstrip(".").split()
    old = words[-1]
    new = next(s for s in _SPARE if s not in caption.lower())
    schema = req.schema or {}
    # A coupled schema (generator.couple) keeps the properties in its anyOf branches.
    props = schema.get("properties") or (schema.get("anyOf") or [{}])[0].get("properties", {})
    if "new_object" in props:
        return json.dumps({"edit": f"Replace the {old} with a {new}.", "edited_object": old,
                           "new_object": new, "output": " ".join([*words[:-1], new]) + "."})
    return json.dumps({"edit": f"Add a {new} next to the {old}.", "edited_object": new,
                       "output": caption.rstrip(".") + f" with a {new}."})


def edit_recipe(tmp_path, name: str, types: list[str], seed: int = 3) -> dict:
    rows = tmp_path / f"{name}.jsonl"
    rows.write_text("".join(json.dumps({"id": f"c{i}", "caption": c}) + "\n"
                            for i, c in enumerate(CAPTIONS)))
    return {"seed": seed, "batch_size": 4, "max_retries": 1, "output_dir": str(tmp_path / name),
            "backend": {"name": "fake"},
            "source": {"name": "jsonl", "path": str(rows)},
            "generator": {"name": "edit", "types": types, "judge": False, "examples": 1,
                          "compose": "model"},  # ``answer`` scripts the model's writing
            "postprocess": [{"name": "dedup", "field": "edit"}]}


def words(text: str) -> list[str]:
    """An independent tokenizer for the tests: letters and digits, lower-cased."""
    return re.findall(r"[a-z0-9]+(?:['-][a-z0-9]+)*", text.lower())
