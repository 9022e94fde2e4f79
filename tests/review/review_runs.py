"""A judged edit run on the fake backend, with images on disk, for the review tests.

The model's edits are scripted by the report tests' ``answer`` (one helper for
both); here the fake backend's ``scores`` add the judge's verdicts on top.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from report_runs import answer

from instructgen.backends.fake import FakeBackend, FakeOptions

CAPTIONS = [
    "A dog sleeping on a couch.", "A red car parked by a fence.", "Two cats on a windowsill.",
    "A man riding a horse on a beach.", "A bowl of apples on a table.",
    "A boat floating on a lake.", "A child flying a kite in a park.",
    "A bus stopped at a station.", "BROKEN caption that gets unparseable answers.",
    "A bicycle leaning on a wall.",
]
#: P(yes) of the score judge, by a word of the caption (first match wins); under
#: the 0.5 threshold the judge says no.
SCORES: dict[str, dict[str, float]] = {
    "car": {"yes": 0.3, "no": 0.7}, "boat": {"yes": 0.45, "no": 0.55},
    "dog": {"yes": 0.9, "no": 0.1}, "horse": {"yes": 0.8, "no": 0.2},
    "cats": {"yes": 0.6, "no": 0.4}, "apples": {"yes": 0.55, "no": 0.45},
    ".": {"yes": 0.7, "no": 0.3},
}


def image_names() -> list[str]:
    return [f"img{i:03d}.png" for i in range(len(CAPTIONS))]


def write_images(folder: Path, count: int) -> list[Path]:
    """The first ``count`` images as small PNGs (Pillow), each a different colour."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, name in enumerate(image_names()[:count]):
        Image.new("RGB", (640, 480), (30 * i % 256, 90, 200)).save(folder / name)
        out.append(folder / name)
    return out


def judged_recipe(tmp_path: Path, name: str = "run", seed: int = 3) -> dict[str, Any]:
    rows = tmp_path / f"{name}-captions.jsonl"
    rows.write_text("".join(json.dumps({"id": f"c{i}", "caption": c, "image_file": img}) + "\n"
                            for i, (c, img) in enumerate(zip(CAPTIONS, image_names(),
                                                             strict=True))))
    return {"seed": seed, "batch_size": 4, "max_retries": 1, "output_dir": str(tmp_path / name),
            "backend": {"name": "fake", "scores": SCORES},
            "source": {"name": "jsonl", "path": str(rows)},
            "generator": {"name": "edit", "types": ["replace", "add"], "judge": True,
                          "judge_format": "score", "judge_threshold": 0.5, "attempts": 1,
                          "examples": 1, "compose": "model", "constrain": False}}


def judged_backend() -> FakeBackend:
    return FakeBackend(FakeOptions(scores=SCORES), responder=answer)


def write_run(path: Path, records: list[dict[str, Any]], recipe_hash: str = "f" * 64) -> Path:
    """A hand-made finished run directory holding ``records`` and no rejections."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "manifest.json").write_text(json.dumps({
        "recipe": {"generator": {"name": "edit"}}, "recipe_hash": recipe_hash,
        "status": "finished", "counts": {"items": len(records)}}))
    (path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (path / "rejects.jsonl").write_text("")
    return path
