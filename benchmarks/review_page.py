"""Size and opening time of ``review.html`` on a large run (issue 29, point 5).

    python benchmarks/review_page.py                       # 100,000 cards, 3 openings
    python benchmarks/review_page.py --records 20000 --rounds 5 --json out.json
    python benchmarks/review_page.py --screenshot docs/review.png

Writes a synthetic run directory shaped like the edit generator's output (80%
accepted records with judge scores, 20% rejection lines with the usual reasons;
readable template texts, no model), builds its page with ``write_review`` and
opens it from ``file://`` in Debian's headless Chromium through playwright.
Per opening it reads the browser's own clocks: first paint and first
contentful paint (Paint Timing), the page's ``ig-first-cards`` mark (the
first page of cards is in the DOM) and ``ig-loaded`` mark (every chunk parsed
and indexed), the longest main-thread task (Long Tasks API; what a user feels
as a freeze), and the time to apply a type filter and to move the cursor
with ``j``. Figures are medians over the openings.

``--screenshot`` instead writes a small run (40 cards, placeholder images drawn
with Pillow), labels three cards with keys and saves a screenshot of the page.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

SUBJECTS = ["a brown dog", "a red car", "two cats", "a man with a hat", "a bowl of apples",
            "a small boat", "a child with a kite", "a yellow bus", "a woman with an umbrella",
            "a bicycle", "a wooden bench", "a white horse", "a plate of pasta", "a clock tower"]
PLACES = ["on a couch", "by a fence", "on a windowsill", "on a sandy beach", "on a table",
          "on a calm lake", "in a green park", "at a station", "in the rain", "against a wall",
          "under a tree", "near a river"]
NEW = ["lamp", "vase", "drum", "globe", "bucket", "teapot", "guitar", "backpack", "chair"]
COLOURS = ["blue", "green", "orange", "purple", "black", "silver"]
BACKGROUNDS = ["a snowy mountain", "a night sky", "a busy street", "a desert", "a forest"]
REJECTS = [("judge", "judge_no"), ("consistency", "edited_object_not_in_output"),
           ("generate", "invalid_output"), ("consistency", "output_unchanged"),
           ("postprocess", "too_long")]

#: Long tasks are collected from the first script on, before the page's own code runs.
OBSERVE = """
window.__longtasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longtasks.push(e.duration);
}).observe({type: "longtask", buffered: true});
"""
READ = """() => {
  const at = (name) => {
    const e = performance.getEntriesByName(name);
    return e.length ? e[0].startTime : null;
  };
  return {first_paint: at("first-paint"), first_contentful_paint: at("first-contentful-paint"),
          first_cards: at("ig-first-cards"), loaded: at("ig-loaded"),
          longest_task: Math.max(0, ...window.__longtasks),
          long_tasks: window.__longtasks.length};
}"""
FILTER = """(value) => {
  const t0 = performance.now();
  const sel = document.getElementById("f-type");
  sel.value = value;
  sel.dispatchEvent(new Event("change"));
  return performance.now() - t0;
}"""
KEY_J = """() => {
  const t0 = performance.now();
  document.dispatchEvent(new KeyboardEvent("keydown", {key: "j", bubbles: true}));
  return performance.now() - t0;
}"""


def synthetic_edit(rng: random.Random) -> dict[str, Any]:
    subject, place = rng.choice(SUBJECTS), rng.choice(PLACES)
    caption = f"{subject} {place}"
    thing = subject.split(" ", 1)[1].removeprefix("with a ").split()[-1]
    kind = rng.choice(["replace", "add", "remove", "color_alter", "background_change"])
    new, colour = rng.choice(NEW), rng.choice(COLOURS)
    if kind == "replace":
        return {"edit_type": kind, "edit": f"Replace the {thing} with a {new}.",
                "input": caption, "output": f"a {new} {place}", "edited_object": thing,
                "new_object": new}
    if kind == "add":
        return {"edit_type": kind, "edit": f"Add a {new} next to the {thing}.",
                "input": caption, "output": f"{caption} with a {new}", "edited_object": new}
    if kind == "remove":
        return {"edit_type": kind, "edit": f"Remove the {thing}.", "input": caption,
                "output": f"an empty scene {place}", "edited_object": thing}
    if kind == "color_alter":
        return {"edit_type": kind, "edit": f"Make the {thing} {colour}.", "input": caption,
                "output": f"{caption}, the {thing} {colour}", "edited_object": thing,
                "new_color": colour}
    background = rng.choice(BACKGROUNDS)
    return {"edit_type": kind, "edit": f"Put the {thing} in front of {background}.",
            "input": caption, "output": f"{subject} in front of {background}",
            "new_background": background}


def synthetic_run(path: Path, n: int, seed: int = 0) -> Path:
    """A finished run of ``n`` cards: 80% records, 20% rejection lines."""
    rng = random.Random(seed)
    path.mkdir(parents=True, exist_ok=True)
    recipe_hash = hashlib.sha256(f"synthetic-{n}-{seed}".encode()).hexdigest()
    accepted = rejected = 0
    with (path / "records.jsonl").open("w") as rec, (path / "rejects.jsonl").open("w") as rej:
        for i in range(n):
            data = synthetic_edit(rng)
            image = f"{i:012d}.jpg"
            if rng.random() < 0.8:
                p_yes = round(rng.uniform(0.5, 1.0), 4)
                data.update({"judge": "yes", "judge_p_yes": p_yes,
                             "few_shot": [f"{data['edit_type']}-{rng.randrange(10)}"],
                             "attempts": 1, "image_file": image, "prefilter": "heuristic"})
                rec.write(json.dumps({"id": image, "item_id": image, "generator": "edit",
                                      "data": data, "provenance": None, "extra": {}}) + "\n")
                accepted += 1
            else:
                stage, reason = rng.choice(REJECTS)
                p = f" (P(yes) = {rng.uniform(0, 0.5):.4f} < judge_threshold 0.5)"
                detail = (f"{data['edit_type']}: {reason.replace('_', ' ')}"
                          f"{p if reason == 'judge_no' else ''} (attempt 1 of 1)")
                raw = json.dumps({k: data[k] for k in ("edit", "output")})
                rej.write(json.dumps({"item_id": image, "stage": stage, "plugin": "edit",
                                      "reason": reason, "detail": detail, "raw": raw,
                                      "data": {"caption": data["input"],
                                               "image_file": image}}) + "\n")
                rejected += 1
    (path / "manifest.json").write_text(json.dumps({
        "recipe": {"source": {"name": "coco"}, "generator": {"name": "edit", "judge": True,
                                                             "judge_format": "score",
                                                             "judge_threshold": 0.5}},
        "recipe_hash": recipe_hash, "status": "finished", "seed": seed,
        "backend": {"name": "synthetic", "model": "none"},
        "counts": {"items": n, "accepted": accepted, "rejected": rejected}}))
    return path


def placeholder_images(folder: Path, names: list[str], seed: int = 0) -> None:
    """Simple drawn scenes (sky, ground, a shape) so cards have something to show."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        im = Image.new("RGB", (480, 360), (rng.randrange(90, 200), rng.randrange(150, 230), 250))
        draw = ImageDraw.Draw(im)
        draw.rectangle([0, 230, 480, 360], fill=(rng.randrange(60, 140), 150, 70))
        x, y = rng.randrange(60, 360), rng.randrange(120, 220)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse([x, y, x + 90, y + 90], fill=colour)
        draw.rectangle([x + 120, y + 30, x + 200, y + 110], fill=colour[::-1])
        im.save(folder / name, quality=85)


def launch():
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    return pw, pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def measure(page_path: Path, rounds: int) -> dict[str, Any]:
    pw, browser = launch()
    runs = []
    try:
        for _ in range(rounds):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_init_script(OBSERVE)
            page = context.new_page()
            t0 = time.perf_counter()
            page.goto(page_path.as_uri(), timeout=300_000)
            page.wait_for_selector("body[data-loaded='1']", timeout=300_000)
            wall = time.perf_counter() - t0
            figures = page.evaluate(READ)
            figures["filter_ms"] = page.evaluate(FILTER, "0")
            figures["reset_filter_ms"] = page.evaluate(FILTER, "")
            figures["key_j_ms"] = page.evaluate(KEY_J)
            figures["cards_in_dom"] = page.locator(".card").count()
            figures["wall_to_loaded_s"] = wall
            runs.append(figures)
            context.close()
    finally:
        browser.close()
        pw.stop()
    keys = [k for k in runs[0] if isinstance(runs[0][k], (int, float))]
    return {"runs": runs, "median": {k: statistics.median(r[k] for r in runs) for k in keys}}


def screenshot(out: Path, work: Path) -> None:
    from instructgen.report.review_page import ReviewOptions, write_review

    run = synthetic_run(work / "shot", 40, seed=5)
    names = [json.loads(line)["data"].get("image_file") for line in
             (run / "records.jsonl").read_text().splitlines()]
    names += [json.loads(line)["data"]["image_file"] for line in
              (run / "rejects.jsonl").read_text().splitlines()]
    placeholder_images(work / "images", [n for n in names if n])
    page_path = write_review(run, options=ReviewOptions(images=[work / "images"])).path
    pw, browser = launch()
    try:
        page = browser.new_page(viewport={"width": 1100, "height": 960})
        page.goto(page_path.as_uri())
        page.wait_for_selector("body[data-loaded='1']")
        for key in ("g", "j", "b", "3", "j", "g", "j"):
            page.keyboard.press(key)
        page.evaluate("window.scrollTo(0, 0)")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
    finally:
        browser.close()
        pw.stop()
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000, help="cards in the run")
    ap.add_argument("--rounds", type=int, default=3, help="openings of the page")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--screenshot", type=Path, help="write a screenshot of a small page here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.screenshot:
            screenshot(args.screenshot, work)
            return 0
        from instructgen.report.review_page import write_review

        t0 = time.perf_counter()
        run = synthetic_run(work / "run", args.records)
        made = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = write_review(run)
        built = time.perf_counter() - t0
        sizes = {f: (run / f).stat().st_size for f in ("records.jsonl", "rejects.jsonl")}
        figures = measure(result.path, args.rounds)
        out = {"records": result.records, "rejections": result.rejections,
               "page_bytes": result.size_bytes, "run_file_bytes": sizes,
               "synthesis_s": made, "write_review_s": built, **figures}
    med = out["median"]
    print(f"{result.records:,} records + {result.rejections:,} rejection lines: review.html "
          f"{result.size_bytes / 1e6:.1f} MB (records.jsonl {sizes['records.jsonl'] / 1e6:.1f} MB)"
          f", written in {built:.1f} s")
    print(f"median of {args.rounds}: first paint {med['first_paint']:.0f} ms, first contentful "
          f"paint {med['first_contentful_paint']:.0f} ms, first cards {med['first_cards']:.0f} "
          f"ms, all loaded {med['loaded']:.0f} ms; longest task {med['longest_task']:.0f} ms; "
          f"type filter {med['filter_ms']:.0f} ms, j {med['key_j_ms']:.1f} ms")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
