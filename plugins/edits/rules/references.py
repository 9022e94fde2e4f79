"""visual_reference's pool of reference images: file names in a folder, each with a category."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import attrs

from instructgen.errors import RecipeError
from instructgen.text import plural_forms

_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


@attrs.frozen
class ReferencePool:
    """visual_reference's reference images: file names in a folder, each with a category.

    The reference crawled a pool of object photos and kept a mapping from each file
    name to its category (``{"bear_01.jpg": {"animals": ["bear"]}}``, one a line).
    A record takes an image whose category fits its new object, and that category
    becomes ``ref_object``.
    """

    images: tuple[tuple[str, str], ...]

    @classmethod
    def load(cls, folder: str, mapping: str) -> ReferencePool:
        """Read the folder and the mapping; a bad path or an empty pool is a recipe error."""
        if not folder or not mapping:
            raise RecipeError("generator.reference_images and generator.reference_mapping "
                              "go together: a folder of reference images and the file "
                              "mapping each image to its category")
        root, table = Path(folder), Path(mapping)
        if not root.is_dir():
            raise RecipeError(f"generator.reference_images: {folder!r} is not a folder")
        if not table.is_file():
            raise RecipeError(f"generator.reference_mapping: {mapping!r} does not exist")
        categories = _read_mapping(table)
        files = sorted(p.name for p in root.iterdir() if p.suffix.lower() in _IMAGE_EXTS)
        images = tuple((name, categories[name]) for name in files if name in categories)
        if not images:
            raise RecipeError(f"generator.reference_mapping: none of the {len(files)} images "
                              f"in {folder!r} has a category in {mapping!r}")
        return cls(images)

    def pick(self, new_object: str, rng: random.Random, *, any_image: bool = False,
             ) -> tuple[str, str] | None:
        """(file name, category) for a record whose new object is ``new_object``."""
        head = new_object.split()[-1].lower() if new_object.split() else ""
        fits = [(f, c) for f, c in self.images
                if any_image or (c.split() and plural_forms(c.split()[-1]) & {head})]
        return rng.choice(fits) if fits else None


def _read_mapping(path: Path) -> dict[str, str]:
    """File name -> category, from a JSON object or JSON lines of objects."""
    text = path.read_text(encoding="utf-8")
    try:
        blocks = [json.loads(text)]
    except json.JSONDecodeError:
        try:
            blocks = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise RecipeError(f"generator.reference_mapping: {path} is neither JSON nor JSON "
                              f"lines ({exc})") from None
    out: dict[str, str] = {}
    for block in blocks:
        if not isinstance(block, dict):
            raise RecipeError(f"generator.reference_mapping: {path} holds a "
                              f"{type(block).__name__}, not an object of file name -> category")
        for name, value in block.items():
            category = _category(value)
            if category:
                out[str(name)] = category
    return out


def _category(value: Any) -> str | None:
    """The category of one mapping entry: a string, a list's first, or a dict's first list."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        return _category(value[0]) if value else None
    if isinstance(value, dict):
        for inner in value.values():
            found = _category(inner)
            if found:
                return found
    return None
