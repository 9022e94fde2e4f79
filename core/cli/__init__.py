"""The ``instructgen`` command line.

Each command group lives in its own module with a ``register(subparsers)``
function; :func:`main` wires them together and turns user errors into a
one-line message and exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from instructgen import __version__
from instructgen.errors import RunAborted, Terminated, UserError
from instructgen.manager import DISABLE_PLUGINS_ENV

from . import concepts, inspect_cmds, report_cmds, run_cmds

#: Command-group modules, in help order.
COMMAND_GROUPS = (run_cmds, inspect_cmds, report_cmds, concepts)

EXIT_USER_ERROR = 2
EXIT_ABORTED = 3
#: A backend worker died by a signal twice on one batch (BackendCrashed); rerun resumes.
EXIT_BACKEND_CRASHED = 4
#: A run file could not be written mid-run (full disk, I/O error); rerun to resume.
EXIT_OUTPUT_ERROR = 5
#: Ctrl-C; SIGTERM and SIGHUP exit 128 + their number (143, 129).
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="instructgen",
        description="Generate image-editing instructions and captions with local LLMs.",
        epilog="exit codes: 0 done; 2 a bad recipe, data file, command or output directory "
               "(one line names it); 3 the run stopped itself (too many failed items); 4 the "
               "backend's worker died twice; 5 a run file could not be written (a full disk, "
               "an I/O error); 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP. After 3-5 and the "
               "signals, finished work is kept and rerunning the same command resumes. "
               "Every handled failure: docs/reliability.md",
    )
    parser.add_argument("--version", action="version", version=f"instructgen {__version__}")
    parser.add_argument("--log-format", choices=["console", "json"], default="console",
                        help="log lines as human-readable console text or JSON lines "
                             "(default: console)")
    parser.add_argument("-p", dest="plugin_flags", action="append", default=[],
                        metavar="no:NAME",
                        help="leave the plugin NAME out of this run (repeatable), like pytest's "
                             "-p no:NAME; INSTRUCTGEN_DISABLE_PLUGINS=NAME,... does the same")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="count", default=0,
                           help="more log output (-v: debug events such as batch_done)")
    verbosity.add_argument("-q", "--quiet", action="count", default=0,
                           help="less log output (-q: warnings only, -qq: errors only)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                help="what to do; see instructgen COMMAND --help")
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def log_level(args: argparse.Namespace) -> int:
    if args.verbose:
        return logging.DEBUG
    return {0: logging.INFO, 1: logging.WARNING}.get(args.quiet, logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    blocked = []
    for flag in args.plugin_flags:
        if not flag.startswith("no:") or not flag[3:]:
            parser.error(f"-p {flag}: expected no:NAME (the only form: leave NAME out)")
        blocked.append(flag[3:])
    if blocked:
        # Through the environment, so every registry of this process and its worker
        # processes (replicas, Ray actors) blocks the same plugins.
        current = os.environ.get(DISABLE_PLUGINS_ENV, "")
        os.environ[DISABLE_PLUGINS_ENV] = ",".join(filter(None, [current, *blocked]))
    try:
        return int(args.func(args) or 0)
    except RunAborted as exc:
        print(f"instructgen: {exc}", file=sys.stderr)
        return EXIT_ABORTED
    except UserError as exc:
        message = " ".join(str(exc).split("\n"))
        print(f"instructgen: error: {message}", file=sys.stderr)
        return int(getattr(exc, "exit_code", EXIT_USER_ERROR))
    except KeyboardInterrupt as exc:
        by = f"stopped by {exc.signame}" if isinstance(exc, Terminated) else "interrupted"
        print(f"instructgen: {by}; finished work is saved, rerun the same command to "
              "resume", file=sys.stderr)
        return exc.exit_code if isinstance(exc, Terminated) else EXIT_INTERRUPTED


def console_main() -> None:
    sys.exit(main())
