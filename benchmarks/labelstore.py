"""The labelled set of benchmarks/labels/: content keys, lookup, pending records, blind sheets.

A label says whether a dataset builder would keep one record (``good``) or
not (``bad``, with one reason of :data:`REASONS`); docs/labelling.md says how
records are read. Records are found again by a content key, so a benchmark
run that writes the same record again (same seed, warm call cache, or
another path that happens to write it) meets its label:

- an edit (or one turn of a chain): the hash of type, instruction, input and
  output caption;
- a caption: the hash of its family and its text.

Files, one JSON object a line:

- ``edits.jsonl`` / ``captions.jsonl``: labelled records, each with the
  paths (generation settings) that produced it, joined in after labelling;
- ``pending-edits.jsonl`` / ``pending-captions.jsonl``: records a benchmark
  met without a label, with their paths;
- ``sheet-*.jsonl``: a blind sheet of the pending records, shuffled and
  without the paths, which the reader fills in (``label``, ``reason``);
  ``join`` moves the filled rows into the labelled file with their paths.

    python benchmarks/labelstore.py sheet edits      # pending -> blind sheet
    python benchmarks/labelstore.py join edits       # filled sheet -> edits.jsonl
    python benchmarks/labelstore.py count            # labels by type / family
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "benchmarks" / "labels"
KINDS = ("edits", "captions")

try:  # the review page's reason ids, when that module is there
    from instructgen.report.labels import REASONS
except ImportError:  # pragma: no cover - older trees
    REASONS = ("wrong_type", "object_not_in_image", "not_one_change",
               "output_not_input_with_change", "not_fluent", "rambling", "repeated",
               "stage_incompatible")


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def edit_key(edit_type: str, edit: str, input: str, output: str) -> str:
    """The content key of one edit (or one turn of a chain)."""
    return _hash("edit", edit_type, edit.strip(), input.strip(), output.strip())


def caption_key(family: str, caption: str) -> str:
    """The content key of one caption of a family (c2cap, cb2cap, cc2cap, implicit)."""
    return _hash("caption", family, " ".join(caption.split()))


def read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def write(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")


def labels(kind: str) -> dict[str, dict[str, Any]]:
    """The labelled records of ``kind`` by key."""
    return {r["key"]: r for r in read(LABELS / f"{kind}.jsonl")}


def add_pending(kind: str, rows: Iterable[Mapping[str, Any]]) -> int:
    """Add records without a label to the pending file (merging paths); how many are new."""
    known = labels(kind)
    path = LABELS / f"pending-{kind}.jsonl"
    pending = {r["key"]: r for r in read(path)}
    new = 0
    for row in rows:
        if row["key"] in known:
            continue
        have = pending.get(row["key"])
        if have is None:
            pending[row["key"]] = {**row, "paths": sorted(set(row.get("paths", [])))}
            new += 1
        else:
            have["paths"] = sorted(set(have["paths"]) | set(row.get("paths", [])))
    write(path, pending.values())
    return new


def add_paths(kind: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """Record that labelled records were met again on these paths."""
    path = LABELS / f"{kind}.jsonl"
    known = {r["key"]: r for r in read(path)}
    changed = False
    for row in rows:
        have = known.get(row["key"])
        if have is not None and not set(row.get("paths", [])) <= set(have.get("paths", [])):
            have["paths"] = sorted(set(have.get("paths", [])) | set(row["paths"]))
            changed = True
    if changed:
        write(path, known.values())


def add_seconds(kind: str, run: str, seconds: float) -> float:
    """Add a run's backend seconds to the cost ledger; the total for ``run`` so far.

    A rerun served from the call cache costs the backend nothing, so the seconds
    a path cost are those of the runs that asked the backend, added up here
    (``costs.json``): a cached rerun adds 0 and still reports what the records cost.
    """
    path = LABELS / "costs.json"
    ledger = json.loads(path.read_text()) if path.exists() else {}
    runs = ledger.setdefault(kind, {})
    runs[run] = round(runs.get(run, 0.0) + seconds, 1)
    path.write_text(json.dumps(ledger, indent=1, sort_keys=True) + "\n")
    return runs[run]


def sheet(kind: str, seed: int = 27) -> Path:
    """A blind sheet of the pending records: shuffled, without the ``paths`` column."""
    out = LABELS / f"sheet-{kind}.jsonl"
    pending = read(LABELS / f"pending-{kind}.jsonl")
    keys = {r["key"] for r in pending}
    # Rows already on the sheet keep their place and what was filled in; new pending
    # records are shuffled onto the end, so labelling can go on while runs finish.
    kept = [r for r in read(out) if r["key"] in keys]
    have = {r["key"] for r in kept}
    rows = [{k: v for k, v in r.items() if k != "paths"} for r in pending
            if r["key"] not in have]
    random.Random(seed + len(kept)).shuffle(rows)
    write(out, [*kept, *({**r, "label": None, "reason": None} for r in rows)])
    return out


def join(kind: str) -> int:
    """Move the filled rows of the sheet into the labelled file, with their paths."""
    pending = {r["key"]: r for r in read(LABELS / f"pending-{kind}.jsonl")}
    filled = [r for r in read(LABELS / f"sheet-{kind}.jsonl") if r.get("label")]
    for r in filled:
        if r["label"] not in ("good", "bad"):
            raise SystemExit(f"sheet-{kind}.jsonl: key {r['key']}: label must be good or bad")
        if (r["label"] == "bad") != (r.get("reason") in REASONS):
            raise SystemExit(f"sheet-{kind}.jsonl: key {r['key']}: a bad label needs one "
                             f"reason of {', '.join(REASONS)}, a good one none")
    known = {r["key"]: r for r in read(LABELS / f"{kind}.jsonl")}
    for r in filled:
        known[r["key"]] = {**r, "paths": pending.get(r["key"], {}).get("paths", [])}
        pending.pop(r["key"], None)
    write(LABELS / f"{kind}.jsonl", known.values())
    write(LABELS / f"pending-{kind}.jsonl", pending.values())
    return len(filled)


def count() -> str:
    lines = []
    for kind, col in (("edits", "edit_type"), ("captions", "family")):
        rows = list(labels(kind).values())
        by = Counter((r[col], r["label"]) for r in rows)
        lines.append(f"{kind}: {len(rows)} labelled")
        for name in sorted({k[0] for k in by}):
            lines.append(f"  {name}: {by[(name, 'good')]} good, {by[(name, 'bad')]} bad")
        reasons = Counter(r["reason"] for r in rows if r["label"] == "bad")
        lines.append("  reasons: " + ", ".join(f"{k} {v}" for k, v in reasons.most_common()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["sheet", "join", "count"])
    ap.add_argument("kind", nargs="?", choices=KINDS)
    args = ap.parse_args(argv)
    if args.command == "count":
        print(count())
        return 0
    if args.kind is None:
        print(f"{args.command}: name the kind ({' or '.join(KINDS)})", file=sys.stderr)
        return 2
    if args.command == "sheet":
        print(sheet(args.kind))
    else:
        print(f"{join(args.kind)} labels joined")
    return 0


if __name__ == "__main__":
    sys.exit(main())
