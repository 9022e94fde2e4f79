"""The ``llava_cc3m`` source: LLaVA-CC3M-Pretrain-595K captions.

Reads either the ``[{"image_file", "caption"}]`` list the AnyEdit scripts used,
or the release's ``metadata.json`` (a list of ``{"id", "image", "caption",
"blip_caption", "url"}``). Both are one JSON list, read whole and checked
before the first item.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from instructgen.plugin import Source
from instructgen.records import SourceItem

from .shape import (
    expect_key,
    expect_list,
    expect_object,
    first_key,
    image_fields,
    load_json,
    shape_error,
)


@attrs.frozen
class LlavaOptions:
    """Options of the ``llava_cc3m`` source."""

    #: The ``[{image_file, caption}]`` list or the release's ``metadata.json``.
    path: Path
    #: Which field holds the caption (``blip_caption`` in metadata.json is the other one).
    caption_field: str = "caption"
    #: Folder prefixed to each image name; empty keeps the names as they are.
    image_root: str = ""


class LlavaSource(Source):
    """Yields one item per entry with ``caption``, ``image_file`` and ``url`` when present."""

    def __init__(self, options: LlavaOptions) -> None:
        self.options = options
        path = options.path
        rows = expect_list(path, load_json(path), "")
        self._rows: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        seen: set[str] = set()
        for i, row in enumerate(rows):
            where = f"[{i}]"
            row = expect_object(path, row, where)
            caption = expect_key(path, row, options.caption_field, where)
            image_key = first_key(row, ("image_file", "image"))
            if image_key is None:
                raise shape_error(path, f"{where}.image_file", "missing (neither image_file nor "
                                  "image is present)")
            image = row[image_key]
            if options.image_root and isinstance(image, str):
                image = f"{options.image_root.rstrip('/')}/{image}"
            item_id = str(row.get("id") or row[image_key])
            if item_id in seen:  # ids seed items and key resume, so they must be unique
                item_id = f"{item_id}#{i}"
            seen.add(item_id)
            used = {options.caption_field, image_key, "id", "url"}
            data = {"caption": caption, **image_fields(image, row.get("url"))}
            self._rows.append((item_id, data, {k: v for k, v in row.items() if k not in used}))

    def total(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[SourceItem]:
        for item_id, data, extra in self._rows:
            yield SourceItem(id=item_id, data=data, source="llava_cc3m", extra=extra)
