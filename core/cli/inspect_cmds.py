"""``plugins`` and ``models``: what is installed and where models resolve."""

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

    p = sub.add_parser("models", help="list named models and whether they are present",
                       description="Known model names, where each resolves on this machine, "
                                   "and whether the weights are there.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_models)


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


def cmd_models(args: argparse.Namespace) -> int:
    from instructgen.backends.models import model_rows

    rows = model_rows(args.registry.get_models())
    if args.json:
        print(json.dumps(rows, indent=1, ensure_ascii=False, default=str))
        return 0
    table = Table(title="instructgen models")
    keys = list(rows[0]) if rows else ["name"]
    for key in keys:
        table.add_column(key, overflow="fold")
    for row in rows:
        table.add_row(*(str(row[k]) for k in keys))
    Console(width=160).print(table)
    print(_converted_cache_line())
    return 0


def _converted_cache_line() -> str:
    """Size of the transformers backend's converted-GGUF cache, and how to clear it."""
    from instructgen.backends.models import converted_cache_dir, converted_cache_usage

    count, size = converted_cache_usage()
    where = converted_cache_dir()
    if not count:
        return f"converted GGUF cache (transformers): empty ({where})"
    return (f"converted GGUF cache (transformers): {count} model{'s' * (count != 1)}, "
            f"{size / 1e6:,.0f} MB in {where}; delete that folder to free it")
