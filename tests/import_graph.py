"""The package's import graph and its cross-file private reads, read from the source.

The package is assembled from three folders (``core`` is ``instructgen``, ``plugins``
is ``instructgen.plugins``, ``backends`` is ``instructgen.backends``), so the graph is
built from the files with :mod:`ast`, never by importing them: every ``import`` and
``from ... import`` counts, lazy ones inside functions and ``TYPE_CHECKING`` blocks
included, because each is a place where one folder names another.

Run it to print the figures the layering tests hold::

    python tests/import_graph.py          # arrows core -> backends/plugins, cycles, private reads
    python tests/import_graph.py --list   # the same with every arrow, cycle and read listed
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Collection, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Source folder -> the package it becomes.
FOLDERS = {"core": "instructgen", "plugins": "instructgen.plugins",
           "backends": "instructgen.backends"}
#: Names that mean the object itself, not another file's object.
SELF_NAMES = frozenset({"self", "cls", "mcs"})


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package by its dotted name (packages by their own name)."""
    out: dict[str, Path] = {}
    for folder, package in FOLDERS.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([package, *parts])] = path
    return out


def _imported(module: str, path: Path, tree: ast.AST, modules: Collection[str]) -> Iterator[str]:
    """The dotted names ``tree`` imports, relative imports made absolute.

    ``from pkg import mod`` names the module ``pkg.mod``, not ``pkg`` itself (Python
    binds the submodule); ``from pkg import name`` names ``pkg``.
    """
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield sub if sub in modules else base


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in the file)."""
    files = module_files(root)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[module] = {name for name in _imported(module, path, tree, files)
                         if name in files and name != module}
    return graph


def folder_of(module: str) -> str:
    """``core``, ``plugins`` or ``backends``: the folder a module lives in."""
    for folder in ("plugins", "backends"):
        package = FOLDERS[folder]
        if module == package or module.startswith(package + "."):
            return folder
    return "core"


def arrows(graph: dict[str, set[str]], source: str, target: str) -> list[tuple[str, str]]:
    """Imports from a module in folder ``source`` of a module in folder ``target``."""
    return sorted((a, b) for a, targets in graph.items() if folder_of(a) == source
                  for b in targets if folder_of(b) == target)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: strongly connected groups of two or more modules (Tarjan).

    A package's ``__init__`` importing its own modules, which import helpers back
    from it, is a circle like any other and is counted.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def private_reads(folder: str = "backends", root: Path = ROOT) -> list[str]:
    """``file:line: x._name`` for every read of another object's private attribute.

    ``self._x`` and ``cls._x`` are an object's own state; ``other._x`` on anything
    else reaches into state another object owns. Dunder names are not private.
    """
    out: list[tuple[Path, int, str]] = []
    for path in sorted((root / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        # Another library's private names (``argparse._SubParsersAction``) are that
        # library's business; only reads into this package's objects count.
        foreign = {alias.asname or alias.name.partition(".")[0]
                   for node in ast.walk(tree) if isinstance(node, ast.Import)
                   for alias in node.names if not alias.name.startswith("instructgen")}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            name = node.attr
            if not name.startswith("_") or name.startswith("__"):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in SELF_NAMES | foreign:
                continue
            out.append((path.relative_to(root), node.lineno, f"{ast.unparse(owner)}.{name}"))
    return [f"{where}:{line}: {read}" for where, line, read in sorted(out)]


def figures(root: Path = ROOT) -> dict[str, object]:
    """The layering figures: arrows out of core, circles, backends' private reads."""
    graph = import_graph(root)
    return {
        "modules": len(graph),
        "core->backends": arrows(graph, "core", "backends"),
        "core->plugins": arrows(graph, "core", "plugins"),
        "cycles": cycles(graph),
        "private reads in backends": private_reads("backends", root),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list every arrow, cycle and read")
    args = parser.parse_args()
    for name, value in figures().items():
        if isinstance(value, list):
            print(f"{name}: {len(value)}")
            if args.list:
                for entry in value:
                    shown = " <-> ".join(entry) if isinstance(entry, list) else entry
                    print(f"    {' -> '.join(shown) if isinstance(shown, tuple) else shown}")
        else:
            print(f"{name}: {value}")


if __name__ == "__main__":
    main()
