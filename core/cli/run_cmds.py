"""``run``, ``validate`` and ``preview``: the commands that take a recipe."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from instructgen.api import plan
from instructgen.canonical import converter
from instructgen.logs import Log, forward_library_logs, make_logger
from instructgen.plan import Plan
from instructgen.runner import Runner


def _recipe_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe", help="path to the TOML recipe")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe value, e.g. --set generator.max_words=10 "
                        "(TOML value syntax; repeatable)")


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run a recipe into its output directory",
                       description="Run a recipe. An interrupted run resumes when the same "
                                   "command is run again.")
    _recipe_args(p)
    p.add_argument("--fresh", action="store_true",
                   help="discard what the output directory holds from an earlier run and "
                        "start afresh")
    p.add_argument("--no-progress", action="store_true",
                   help="never show the progress bar (it is shown only on terminals anyway)")
    p.add_argument("--engine", choices=["local", "ray"],
                   help="where generation runs (overrides engine.kind; default: local)")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="Ray cluster address for --engine ray (overrides engine.ray_address)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check a recipe without running it",
                       description="Load the recipe, find every plugin and validate every "
                                   "option; exit 2 with the first problems if any.")
    _recipe_args(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("preview", help="print a few finished records; write nothing",
                       description="Run the recipe in memory until N records are accepted "
                                   "and print them as JSON lines. Nothing is written, not "
                                   "even the call cache.")
    _recipe_args(p)
    p.add_argument("-n", type=int, default=3, metavar="N",
                   help="how many records to print (default: 3)")
    p.set_defaults(func=cmd_preview)


def log_level(args: argparse.Namespace) -> int:
    """The level the global ``-v`` / ``-q`` options ask for."""
    if args.verbose:
        return logging.DEBUG
    return {0: logging.INFO, 1: logging.WARNING}.get(args.quiet, logging.ERROR)


def _logger(args: argparse.Namespace) -> Log:
    return make_logger(args.log_format, log_level(args))


def cmd_run(args: argparse.Namespace) -> int:
    overrides = list(args.overrides)
    if args.engine:
        overrides.append(f"engine.kind={args.engine}")
    if args.ray_address:
        overrides.append(f"engine.ray_address={json.dumps(args.ray_address)}")
    the_plan, registry = plan(args.recipe, overrides=overrides)
    log = _logger(args)
    runner = Runner(the_plan, registry, fresh=args.fresh, log=log,
                    progress=False if args.no_progress else None)
    with forward_library_logs(log):  # backend and llama.cpp log lines obey -q like the rest
        summary = runner.run()
    if summary.status == "already_finished":
        print(summary.message, file=sys.stderr)
        return 0
    reasons = ", ".join(f"{k}={v}" for k, v in list(summary.rejection_reasons.items())[:5])
    print(f"{summary.run_dir}: {summary.items} items, {summary.accepted} accepted, "
          f"{summary.rejected} rejected{f' ({reasons})' if reasons else ''}, "
          f"{summary.elapsed_s:.1f}s", file=sys.stderr)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    the_plan, _ = plan(args.recipe, overrides=args.overrides)
    stages = ", ".join(f"{s.where}={s.spec.name}" for s in the_plan.stages)
    print(f"{args.recipe}: ok ({stages}; recipe hash {the_plan.hash[:12]})")
    return 0


def _precheck(the_plan: Plan) -> None:
    """Warn before loading any model when the first items all fail the same way."""
    from instructgen.early import precheck
    from instructgen.plugin import RunInfo

    recipe = the_plan.recipe
    generator = the_plan.generator.build()
    generator.setup(RunInfo(None, recipe.seed, the_plan.hash, recipe.max_retries,
                            the_plan.context))
    message = precheck(the_plan.source.build(), generator, recipe.seed, recipe.max_retries)
    if message:
        print(f"preview: warning: {message}", file=sys.stderr)


def cmd_preview(args: argparse.Namespace) -> int:
    if args.n < 1:
        from instructgen.errors import UserError

        raise UserError("-n: must be at least 1")
    the_plan, registry = plan(args.recipe, overrides=args.overrides)
    _precheck(the_plan)
    log = _logger(args)
    runner = Runner(the_plan, registry, write=False, log=log, progress=False)
    records = runner.records()
    shown = 0
    with forward_library_logs(log):
        try:
            for record in records:
                print(json.dumps(converter.unstructure(record), ensure_ascii=False))
                shown += 1
                if shown >= args.n:
                    break
        finally:
            records.close()
    if shown < args.n:
        print(f"preview: only {shown} record(s) accepted out of {runner.summary.items} items",
              file=sys.stderr)
    return 0
