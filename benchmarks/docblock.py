"""How every benchmark script puts its table into a docs page.

A script owns the text between its two HTML-comment markers and rewrites only
that, so several scripts can share one page and the prose around them stays.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def write_block(path: Path, begin: str, end: str, text: str,
                insert: Callable[[str, str], str] | None = None) -> None:
    """Replace what lies between ``begin`` and ``end`` in ``path`` with ``text``.

    A page without the markers gets the block from ``insert(page, block)``; with
    no ``insert`` that is an error, so a renamed marker is never silently doubled.
    """
    doc = path.read_text() if path.exists() else ""
    block = f"{begin}\n{text}\n{end}"
    if begin in doc:
        head, _, rest = doc.partition(begin)
        _, _, tail = rest.partition(end)
        doc = head + block + tail
    elif insert is not None:
        doc = insert(doc, block)
    else:
        raise SystemExit(f"{path} has no {begin} marker")
    path.write_text(doc)
    print(f"wrote {path}")
