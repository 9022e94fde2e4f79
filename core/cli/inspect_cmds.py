"""``plugins``: what is installed, with each plugin's options."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from instructgen.introspect import describe_plugin
from instructgen.plugin import PLUGIN_KINDS

KINDS = tuple(PLUGIN_KINDS)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("plugins", help="list installed plugins and their options",
                       description="Every plugin with its kind, distribution, version, "
                                   "description and options (type and default).")
    p.add_argument("--kind", choices=KINDS, help="only plugins of this kind")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_plugins)


def cmd_plugins(args: argparse.Namespace) -> int:
    registry = args.registry
    kinds = [args.kind] if args.kind else list(KINDS)
    rows = [describe_plugin(spec) for kind in kinds for spec in registry.plugins(kind).values()]
    if args.json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return 0
    table = Table(title="instructgen plugins", show_lines=True)
    for col in ("kind", "name", "from", "description", "options"):
        table.add_column(col, overflow="fold")
    for row in rows:
        opts = "\n".join(
            f"{o['name']}: {o['type']} = {json.dumps(o['default'])}" if not o["required"]
            else f"{o['name']}: {o['type']} (required)"
            for o in row["options"]
        )
        table.add_row(row["kind"], row["name"], f"{row['dist']} {row['version']}".strip(),
                      row["description"], opts or "-")
    Console(width=160).print(table)
    return 0

