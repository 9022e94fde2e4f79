"""``review``: look at a run's records in a browser page, label them, and use the labels."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from instructgen.errors import UserError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "review", help="write review.html to look at and label a run's records; import labels",
        description="Writes one self-contained page, RUN_DIR/review.html, that shows every "
                    "accepted record and rejection line as a card beside its image, with "
                    "filters by type, status, rejection reason and label. It needs no server "
                    "or network and opens from file://. Label with the buttons or keys (j/k "
                    "move, g good, b bad, 1-8 a reason); the browser keeps the labels until "
                    "'export labels.jsonl'. --import stores an export in the run directory, "
                    "where 'instructgen report' and 'card' turn it into precision; "
                    "--suggest-threshold reads the stored labels to pick the score judge's "
                    "threshold.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="run directory (holding manifest.json)")
    p.add_argument("--out", metavar="FILE",
                   help="write the page here (default: RUN_DIR/review.html)")
    p.add_argument("--images", action="append", default=[], metavar="DIR",
                   help="folder the records' image_file is relative to (a COCO, LLaVA or "
                        "AnyWord image root); repeatable, tried in order")
    p.add_argument("--sample", type=int, metavar="N",
                   help="show a random sample of N cards (records and rejection lines) "
                        "instead of all")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of that sample, so two reviewers see the same cards (default: 0)")
    p.add_argument("--no-thumbnails", action="store_true",
                   help="link the original images instead of making thumbnails in "
                        "RUN_DIR/review-thumbs (thumbnails need Pillow)")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--import", dest="import_file", metavar="LABELS",
                        help="store the labels of an exported labels.jsonl in "
                             "RUN_DIR/labels.jsonl (a later label of a record replaces the "
                             "earlier one) instead of writing the page; labels of another "
                             "recipe are refused")
    action.add_argument("--suggest-threshold", action="store_true",
                        help="print the judge_p_yes threshold with the best balanced accuracy "
                             "on the stored labels, and what it would have kept, instead of "
                             "writing the page")
    p.set_defaults(func=cmd_review)


def cmd_review(args: argparse.Namespace) -> int:
    if args.import_file:
        return _import(Path(args.run_dir), Path(args.import_file))
    if args.suggest_threshold:
        return _suggest(Path(args.run_dir))
    from instructgen.report.review_page import ReviewOptions, write_review

    if args.sample is not None and args.sample < 1:
        raise UserError(f"--sample {args.sample}: must be at least 1")
    opts = ReviewOptions(images=args.images, sample=args.sample, seed=args.seed,
                         thumbnails=not args.no_thumbnails)
    result = write_review(args.run_dir, args.out, opts)
    print(f"wrote {result.path} ({result.size_bytes / 1e6:.1f} MB): {result.records:,} "
          f"records and {result.rejections:,} rejection lines")
    if args.images:
        print(f"images: {result.images_found:,} found, {result.images_missing:,} not found; "
              f"{result.thumbnails_made:,} thumbnails made"
              + (f" ({result.thumbnails_skipped})" if result.thumbnails_skipped else ""))
    return 0


def _import(run_dir: Path, source: Path) -> int:
    from instructgen.report.labels import import_labels, read_labels, rejection_ids
    from instructgen.report.rundata import load_run

    run = load_run(run_dir)
    labels = read_labels(source)
    known = [str(r.get("id")) for r in run.records] + rejection_ids(run.rejections)
    result = import_labels(run.path, str(run.manifest.get("recipe_hash") or ""), labels, known)
    print(f"stored {result.stored:,} labels in {result.path} ({result.new:,} new, "
          f"{result.changed:,} changed)")
    if result.unknown_ids:
        print(f"{result.unknown_ids:,} of them name no record of this run; kept, not counted")
    return 0


def _suggest(run_dir: Path) -> int:
    from instructgen.report.precision import suggest_threshold
    from instructgen.report.rundata import load_run

    run = load_run(run_dir)
    if not run.labels:
        raise UserError(f"{run_dir}: no labels stored; label records in review.html, then "
                        f"instructgen review --import labels.jsonl {run_dir}")
    choice = suggest_threshold(run, run.labels)
    if choice is None:
        raise UserError(f"{run_dir}: the labels need at least one good and one bad record "
                        f"that the score judge (judge_format = \"score\") rated")
    agree = choice.agreement
    print(f"suggested judge_threshold = {choice.threshold:g}: balanced accuracy "
          f"{agree.balanced_accuracy:.3f} on {agree.labelled:,} labelled candidates "
          f"({agree.good_passed} of {agree.good} good kept, {agree.bad_failed} of {agree.bad} "
          f"bad dropped)")
    if choice.current is not None and choice.current_agreement is not None:
        now = choice.current_agreement.balanced_accuracy
        print(f"the run's judge_threshold = {choice.current:g}: balanced accuracy "
              f"{now:.3f}" if now is not None else f"the run's judge_threshold = "
              f"{choice.current:g}")
    if choice.kept_precision is not None:
        print(f"labelled candidates it keeps: precision {choice.kept_precision.text()}")
    print(f"it would have kept {choice.accepted_kept:,} of {choice.accepted_scored:,} accepted "
          f"scored records, and passed {choice.rejected_passing:,} of "
          f"{choice.rejected_scored:,} judge_no rejection lines (their items may have been "
          f"retried; later checks still apply)")
    return 0
