"""The CLI reference page, rendered from the argparse parsers themselves."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from instructgen.manager import PluginRegistry


def render_cli_reference(registry: PluginRegistry) -> str:
    """Every command's help; ``registry`` supplies the plugin families' command groups."""
    from . import build_parser

    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; the page must not vary
    try:
        parser = build_parser(registry)
        out = ["# CLI reference", "",
               "Generated from the parsers by `python docs/generate.py`; do not edit by hand.", ""]
        out += _section("instructgen", parser)
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    return "\n".join(out).rstrip() + "\n"


def _section(name: str, parser: argparse.ArgumentParser) -> list[str]:
    out = [f"{'#' * min(name.count(' ') + 2, 4)} `{name}`", ""]
    if parser.description:
        out += [parser.description, ""]
    out += ["```text", parser.format_help().rstrip(), "```", ""]
    for action in parser._actions:  # argparse has no public walk over sub-commands
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                out += _section(f"{name} {sub_name}", sub)
    return out
