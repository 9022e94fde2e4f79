"""``instructgen models``: where each named model resolves on this machine.

The backends family adds this command (through ``instructgen_commands``), since
the model names, their folders and the transformers backend's converted-GGUF
cache are its own; with ``-p no:backends`` neither the models nor the command exist.
"""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from .models import converted_cache_dir, converted_cache_usage, model_rows


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("models", help="list named models and whether they are present",
                       description="Known model names, where each resolves on this machine, "
                                   "and whether the weights are there.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_models)


def cmd_models(args: argparse.Namespace) -> int:
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
    count, size = converted_cache_usage()
    where = converted_cache_dir()
    if not count:
        return f"converted GGUF cache (transformers): empty ({where})"
    return (f"converted GGUF cache (transformers): {count} model{'s' * (count != 1)}, "
            f"{size / 1e6:,.0f} MB in {where}; delete that folder to free it")
