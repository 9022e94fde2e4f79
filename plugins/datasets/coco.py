"""The ``coco`` source: COCO captions, official or in AnyEdit's per-image shape.

Two shapes are read:

* the official ``captions_*.json``: ``{"images": [{"id", "file_name"}],
  "annotations": [{"image_id", "id", "caption"}]}``, grouped per image;
* AnyEdit's ``image_caption.json``: ``{key: {"image_file", "captions": [...]}}``.

Both are single JSON documents, so the file is read whole and checked before
the first item is yielded; the first bad path is named in the error.

With ``instances`` set to COCO's ``instances_*.json``, every item also carries
its image's true objects (``objects``: ``[{"name", "bbox": [x, y, w, h],
"iscrowd"}]``) and ``image_size`` ``[width, height]``; the ``edit_rules``
generator makes ``relation`` edits from the boxes and counts from them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from instructgen.plugin import Source
from instructgen.records import SourceItem
from instructgen.seeds import derive_seed

from .shape import (
    expect_key,
    expect_list,
    expect_object,
    image_fields,
    load_json,
    shape_error,
    usable_caption,
)


@attrs.frozen
class CocoOptions:
    """Options of the ``coco`` source."""

    #: ``captions_*.json`` (official) or ``image_caption.json`` (AnyEdit's shape).
    path: Path
    #: ``one``: one caption per image, chosen with ``seed``; ``all``: one item per caption.
    captions: Literal["one", "all"] = "one"
    #: Seed of the per-image caption choice (independent of the run seed, so the
    #: same recipe seed can be varied without changing which captions are read).
    seed: int = 0
    #: ``auto`` tells the two shapes apart by the ``annotations`` key.
    format: Literal["auto", "official", "anyedit"] = "auto"
    #: Folder prefixed to each image file name; empty keeps the names as they are.
    image_root: str = ""
    #: COCO ``instances_*.json`` of the same images: adds ``objects`` and ``image_size``.
    instances: Path | None = None


@attrs.frozen
class _Image:
    key: str
    image_file: str | None
    captions: list[tuple[str, Any]]  # (caption id, caption value)


class CocoSource(Source):
    """Yields one item per image (or per caption) with ``caption`` and ``image_file``."""

    def __init__(self, options: CocoOptions) -> None:
        self.options = options
        doc = load_json(options.path)
        fmt = options.format
        if fmt == "auto":
            fmt = "official" if isinstance(doc, Mapping) and "annotations" in doc else "anyedit"
        self._skipped: dict[str, int] = {}
        self._images = self._official(doc) if fmt == "official" else self._anyedit(doc)
        self._objects: dict[str, dict[str, Any]] = {}
        if options.instances is not None:
            self._objects = read_instances(options.instances)

    def total(self) -> int:
        if self.options.captions == "one":
            return len(self._images)
        return sum(len(im.captions) for im in self._images)

    def stats(self) -> Mapping[str, int]:
        return {f"skipped_{k}": v for k, v in sorted(self._skipped.items())}

    def __iter__(self) -> Iterator[SourceItem]:
        opts = self.options
        for image in self._images:
            image_file = image.image_file
            if image_file and opts.image_root:
                image_file = f"{opts.image_root.rstrip('/')}/{image_file}"
            chosen = image.captions if opts.captions == "all" else [self._choose(image)]
            found = self._objects.get(image.key) or self._objects.get(str(image.image_file))
            if self._objects and found is None:
                self._skip("image_without_instances")
            for cap_id, caption in chosen:
                item_id = image.key if opts.captions == "one" else f"{image.key}:{cap_id}"
                yield SourceItem(
                    id=item_id,
                    data={"caption": caption, **image_fields(image_file),
                          "image_id": image.key, "caption_id": cap_id, **(found or {})},
                    source="coco",
                )

    def _choose(self, image: _Image) -> tuple[str, Any]:
        # Prefer captions that can be used; a bad one only reaches the generator
        # (and its rejection log) when the image has nothing better.
        good = [c for c in image.captions if usable_caption(c[1])] or image.captions
        rng = random.Random(derive_seed(self.options.seed, "coco", image.key))
        return good[rng.randrange(len(good))]

    def _skip(self, reason: str) -> None:
        self._skipped[reason] = self._skipped.get(reason, 0) + 1

    def _official(self, doc: Any) -> list[_Image]:
        path = self.options.path
        doc = expect_object(path, doc, "")
        images = expect_list(path, expect_key(path, doc, "images", ""), "images")
        annotations = expect_list(path, expect_key(path, doc, "annotations", ""), "annotations")
        by_id: dict[Any, _Image] = {}
        order: list[_Image] = []
        for i, entry in enumerate(images):
            where = f"images[{i}]"
            entry = expect_object(path, entry, where)
            image_id = expect_key(path, entry, "id", where)
            if image_id in by_id:
                raise shape_error(path, f"{where}.id", f"duplicate image id {image_id!r}")
            image = _Image(str(image_id), entry.get("file_name"), [])
            by_id[image_id] = image
            order.append(image)
        for i, ann in enumerate(annotations):
            where = f"annotations[{i}]"
            ann = expect_object(path, ann, where)
            image_id = expect_key(path, ann, "image_id", where)
            caption = expect_key(path, ann, "caption", where)
            owner = by_id.get(image_id)
            if owner is None:
                self._skip("annotation_without_image")
                continue
            owner.captions.append((str(ann.get("id", i)), caption))
        kept = []
        for image in order:
            if image.captions:
                kept.append(image)
            else:
                self._skip("image_without_captions")
        return kept

    def _anyedit(self, doc: Any) -> list[_Image]:
        path = self.options.path
        doc = expect_object(path, doc, "")
        out = []
        for key, entry in doc.items():
            where = str(key)
            entry = expect_object(path, entry, where)
            image_file = expect_key(path, entry, "image_file", where)
            captions = expect_list(path, expect_key(path, entry, "captions", where),
                                   f"{where}.captions")
            if not captions:
                self._skip("image_without_captions")
                continue
            out.append(_Image(str(key), image_file, [(str(j), c) for j, c in enumerate(captions)]))
        return out


def read_instances(path: Path) -> dict[str, dict[str, Any]]:
    """``instances_*.json`` as ``{image id or file name: {"objects", "image_size"}}``.

    Images without annotations get an empty ``objects`` list: "no boxes" is a
    fact too. A bad shape names the file and the first bad path.
    """
    doc = expect_object(path, load_json(path), "")
    cats = {}
    for i, cat in enumerate(expect_list(path, expect_key(path, doc, "categories", ""),
                                        "categories")):
        cat = expect_object(path, cat, f"categories[{i}]")
        cats[expect_key(path, cat, "id", f"categories[{i}]")] = str(
            expect_key(path, cat, "name", f"categories[{i}]"))
    by_id: dict[Any, dict[str, Any]] = {}
    out: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(expect_list(path, doc.get("images", []), "images")):
        entry = expect_object(path, entry, f"images[{i}]")
        image_id = expect_key(path, entry, "id", f"images[{i}]")
        size = [entry.get("width"), entry.get("height")]
        info: dict[str, Any] = {"objects": []}
        if all(isinstance(v, int) and v > 0 for v in size):
            info["image_size"] = size
        by_id[image_id] = info
        out[str(image_id)] = info
        if isinstance(entry.get("file_name"), str):
            out[entry["file_name"]] = info
    for i, ann in enumerate(expect_list(path, expect_key(path, doc, "annotations", ""),
                                        "annotations")):
        where = f"annotations[{i}]"
        ann = expect_object(path, ann, where)
        image_id = expect_key(path, ann, "image_id", where)
        cat = expect_key(path, ann, "category_id", where)
        box = expect_key(path, ann, "bbox", where)
        if cat not in cats:
            raise shape_error(path, f"{where}.category_id", f"unknown category {cat!r}")
        if not (isinstance(box, list) and len(box) == 4
                and all(isinstance(v, (int, float)) for v in box)):
            raise shape_error(path, f"{where}.bbox", "expected [x, y, width, height]")
        boxed = by_id.get(image_id)
        if boxed is None:
            boxed = by_id[image_id] = out[str(image_id)] = {"objects": []}
        boxed["objects"].append({"name": cats[cat], "bbox": list(box),
                                "iscrowd": bool(ann.get("iscrowd", 0))})
    return out
