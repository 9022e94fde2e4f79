"""The ``instructgen`` command line.

Each core command group lives in its own module with a ``register(subparsers)``
function; plugin families add theirs through ``instructgen_commands`` (the
``concepts`` group comes from ``instructgen.plugins.concepts``). :func:`main`
reads ``-p no:NAME`` first, builds the one plugin registry of the command,
wires the groups together and turns user errors into a one-line message and
exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from instructgen.errors import PluginError, RunAborted, Terminated, UserError
from instructgen.manager import DISABLE_PLUGINS_ENV, PluginRegistry, make_registry
from instructgen.version import __version__

from . import inspect_cmds, report_cmds, review_cmds, run_cmds

#: Core command-group modules, in help order; plugin families' groups follow.
COMMAND_GROUPS = (run_cmds, inspect_cmds, report_cmds, review_cmds)

EXIT_USER_ERROR = 2
EXIT_ABORTED = 3
#: A backend worker died by a signal twice on one batch (BackendCrashed); rerun resumes.
EXIT_BACKEND_CRASHED = 4
#: A run file could not be written mid-run (full disk, I/O error); rerun to resume.
EXIT_OUTPUT_ERROR = 5
#: Ctrl-C; SIGTERM and SIGHUP exit 128 + their number (143, 129).
EXIT_INTERRUPTED = 130


def _global_options(parser: argparse.ArgumentParser) -> None:
    """Options that come before the command; read twice (see :func:`main`)."""
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


def build_parser(registry: PluginRegistry | None = None) -> argparse.ArgumentParser:
    """The full parser: core command groups, then those of the registry's plugins."""
    if registry is None:
        registry = make_registry()
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
    _global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                help="what to do; see instructgen COMMAND --help")
    for group in COMMAND_GROUPS:
        group.register(sub)
    for name, command in registry.commands().items():
        if name in sub.choices:
            raise PluginError(f"{command.dist} {command.version}: command {name!r} is taken "
                              f"by instructgen itself")
        command.register(sub)
        if name not in sub.choices:
            raise PluginError(f"{command.dist} {command.version}: command {name!r} did not "
                              f"add a parser of that name")
    parser.set_defaults(registry=registry)
    return parser


def _block_flags(argv: Sequence[str] | None) -> None:
    """Read ``-p no:NAME`` before the registry is built, since it decides what loads.

    The names go into ``INSTRUCTGEN_DISABLE_PLUGINS``, so every registry of this
    process and its worker processes (replicas, Ray actors) blocks the same plugins.
    """
    pre = argparse.ArgumentParser(prog="instructgen", add_help=False)
    _global_options(pre)
    known, _ = pre.parse_known_args(argv)
    blocked = []
    for flag in known.plugin_flags:
        if not flag.startswith("no:") or not flag[3:]:
            pre.error(f"-p {flag}: expected no:NAME (the only form: leave NAME out)")
        blocked.append(flag[3:])
    if blocked:
        current = os.environ.get(DISABLE_PLUGINS_ENV, "")
        os.environ[DISABLE_PLUGINS_ENV] = ",".join(filter(None, [current, *blocked]))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    _block_flags(argv)
    try:
        args = build_parser(make_registry()).parse_args(argv)
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
