"""``report`` and ``card``: judge a generated dataset from its run directory."""

from __future__ import annotations

import argparse
from typing import Any

from instructgen.errors import UserError


def _options(args: argparse.Namespace) -> Any:
    from instructgen.report import ReportOptions

    try:
        return ReportOptions(text_field=args.text_field, sample_size=args.sample_size,
                             seed=args.seed, near_duplicate_threshold=args.near_duplicate,
                             near_duplicate_sample=args.near_duplicate_sample, top_k=args.top)
    except ValueError as exc:
        raise UserError(f"report options: {exc}") from None


def _measure_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text-field", metavar="KEY",
                   help="payload key holding the text to measure (default: the first of edit, "
                        "instruction, caption, text, backgrounds that the records have)")
    p.add_argument("--sample-size", type=int, default=200, metavar="N",
                   help="texts drawn for self-BLEU and the ROUGE-L duplicate check "
                        "(default: 200)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of that sample, so the report is reproducible (default: 0)")
    p.add_argument("--near-duplicate", type=float, default=0.9, metavar="SIMILARITY",
                   help="similarity in (0, 1] at which two texts count as near-duplicates "
                        "(default: 0.9)")
    p.add_argument("--near-duplicate-sample", type=int, default=2000, metavar="N",
                   help="texts drawn for the near-duplicate rate; all when there are fewer "
                        "(default: 2000)")
    p.add_argument("--top", type=int, default=10, metavar="K",
                   help="how many verbs and edited objects to list (default: 10)")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report", help="write a quality report (report.md and PNG charts) for run directories",
        description="Counts per edit type and source, the acceptance funnel with ranked "
                    "rejection reasons, distinct-1/2, unique and near-duplicate shares, "
                    "self-BLEU, lengths, top verbs and objects, valid answers and throughput, "
                    "all computed from the run directory's files. Several directories are "
                    "compared side by side. Charts need matplotlib "
                    "(pip install 'instructgen[report]').")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                   help="run directory (holding manifest.json); give several to compare them")
    p.add_argument("--out", metavar="DIR",
                   help="write report.md, report.json and the charts here (default: into the "
                        "run directory; required when comparing several)")
    p.add_argument("--no-charts", action="store_true", help="do not draw PNG charts")
    _measure_args(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "card", help="write a dataset card (README.md) for a run directory",
        description="A README-style dataset card: what generated the data (model, backend, "
                    "recipe, plugin versions, seed), its size, its types and its known limits.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="run directory (holding manifest.json)")
    p.add_argument("--out", metavar="FILE",
                   help="write the card here (default: RUN_DIR/README.md)")
    _measure_args(p)
    p.set_defaults(func=cmd_card)

    p = sub.add_parser(
        "push", help="publish a finished run to the Hugging Face Hub (Parquet, card, charts)",
        description="Upload the run's accepted records as Parquet "
                    "(data/train-00000-of-00001.parquet), its dataset card as README.md and "
                    "its report with charts under report/, in one commit to the dataset "
                    "repository REPO_ID (created if needed). The token comes from HF_TOKEN or "
                    "the saved 'hf auth login'; it is never written anywhere. HF_ENDPOINT "
                    "picks the server. A refused token (401/403) or an unreachable server is "
                    "one line and exit code 2; the run directory is never changed. Needs "
                    "pip install 'instructgen[hub]'.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory")
    p.add_argument("repo_id", metavar="REPO_ID", help="dataset repository, owner/name")
    p.add_argument("--private", action="store_true",
                   help="create the repository as private (an existing one keeps its setting)")
    p.add_argument("--no-charts", action="store_true", help="do not draw and upload charts")
    p.add_argument("--message", metavar="TEXT",
                   help="commit message (default: 'instructgen: <run folder name>')")
    p.set_defaults(func=cmd_push)


def cmd_report(args: argparse.Namespace) -> int:
    from instructgen.report import write_report

    if len(args.run_dirs) > 1 and not args.out:
        raise UserError("comparing several run directories needs --out DIR for the report")
    result = write_report(args.run_dirs, args.out, _options(args), charts=not args.no_charts)
    print(f"wrote {result.markdown}")
    if result.charts.skipped:
        print(f"charts skipped: {result.charts.skipped}")
    else:
        print(f"wrote {len(result.charts.files)} chart(s) next to it")
    return 0


def cmd_card(args: argparse.Namespace) -> int:
    from instructgen.report import write_card

    path = write_card(args.run_dir, args.out, _options(args))
    print(f"wrote {path}")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from instructgen.hub import push_run

    result = push_run(args.run_dir, args.repo_id, private=args.private,
                      charts=not args.no_charts, commit_message=args.message)
    print(f"pushed {len(result.files)} file(s) to {result.repo_url}")
    print(f"commit: {result.commit_url}")
    return 0
