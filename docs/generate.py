"""Regenerate the reference pages that come from the code.

    python docs/generate.py          # write docs/recipes.md, docs/hooks.md, docs/cli.md
    python docs/generate.py --check  # exit 1 when a page is out of date

tests/test_docs.py runs the check, so the pages cannot drift from the code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent


def pages() -> dict[str, str]:
    from instructgen.cli.reference import render_cli_reference
    from instructgen.introspect import render_hook_reference, render_recipe_reference
    from instructgen.manager import make_registry

    registry = make_registry(autoload=False)
    return {
        "recipes.md": render_recipe_reference(registry),
        "hooks.md": render_hook_reference(),
        "cli.md": render_cli_reference(),
        "benchmarks.md": render_benchmarks(),
    }


#: Measured tables kept in the topic pages, gathered into benchmarks.md.
GATHERED = (
    ("Backends", "backends.md", "<!-- benchmark:start -->", "<!-- benchmark:end -->"),
    ("Scale-out", "scaling.md", "<!-- scale-benchmarks:begin -->",
     "<!-- scale-benchmarks:end -->"),
)


def _block(text: str, begin: str, end: str) -> str:
    if begin not in text:
        return ""
    return text.split(begin, 1)[1].split(end, 1)[0].strip()


def render_benchmarks() -> str:
    """benchmarks.md: the runner figures it holds, plus the tables of the topic pages."""
    current = (DOCS / "benchmarks.md").read_text()
    head = current.split("\n## Backends\n", 1)[0].rstrip()
    parts = [head]
    for title, page, begin, end in GATHERED:
        table = _block((DOCS / page).read_text(), begin, end)
        parts.append(f"## {title}\n\nCopied from [{page}]({page}) by `python docs/generate.py`, "
                     f"where the benchmark script writes it and the figures are discussed.\n\n"
                     f"{table}")
    return "\n\n".join(parts) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report stale pages")
    args = ap.parse_args()
    stale = []
    for name, text in pages().items():
        path = DOCS / name
        if path.exists() and path.read_text() == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text)
    if args.check and stale:
        print("out of date: " + ", ".join(stale) + " (run python docs/generate.py)")
        return 1
    print("written: " + ", ".join(stale) if stale else "all pages up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
