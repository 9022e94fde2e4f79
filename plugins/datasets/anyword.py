"""The ``anyword`` source: AnyWord-3M OCR annotations, for textual edits.

``ocr_data/<subset>/data.json`` is ``{"data_root", "data_list": [{"img_name",
"caption", "annotations": [{"polygon", "text", "language", "valid"?}]}]}``.
Only annotations in the chosen languages (Latin by default) are kept; entries
left without any are skipped and counted by reason in the manifest.

The textual edit type needs the text in quotes inside the caption. AnyWord
captions describe the scene without the words, so by default the kept texts
are quoted into the caption: ``*`` placeholders are filled in order when
there is one per text, otherwise ``, with the text "A", "B"`` is appended.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

import attrs

from instructgen.plugin import Source
from instructgen.records import SourceItem

from .shape import expect_key, expect_list, expect_object, load_json


@attrs.frozen
class AnyWordOptions:
    """Options of the ``anyword`` source."""

    #: An AnyWord-3M ``data.json``.
    path: Path
    #: Annotation languages to keep.
    languages: list[str] = attrs.field(factory=lambda: ["Latin"])
    #: ``quote``: put the kept texts into the caption in quotes; ``keep``: leave it as is.
    caption_text: Literal["quote", "keep"] = "quote"
    #: Texts longer than this many words are dropped (long paragraphs make poor edits).
    max_text_words: int = attrs.field(default=6, validator=attrs.validators.ge(1))
    #: ``one``: keep only images with exactly one kept text, as the reference kept only
    #: captions with one quoted text (its ``count("'") == 2``); ``all``: any number.
    texts_per_caption: Literal["all", "one"] = "all"


class AnyWordSource(Source):
    """Yields ``caption`` (with quoted text), ``texts`` and ``image_file`` per kept entry."""

    def __init__(self, options: AnyWordOptions) -> None:
        self.options = options
        path = options.path
        doc = expect_object(path, load_json(path), "")
        root = doc.get("data_root", "")
        if not isinstance(root, str):
            root = ""
        entries = expect_list(path, expect_key(path, doc, "data_list", ""), "data_list")
        self._skipped: dict[str, int] = {}
        self._items: list[SourceItem] = []
        langs = set(options.languages)
        for i, entry in enumerate(entries):
            where = f"data_list[{i}]"
            entry = expect_object(path, entry, where)
            name = expect_key(path, entry, "img_name", where)
            caption = expect_key(path, entry, "caption", where)
            annotations = entry.get("annotations") or []
            annotations = expect_list(path, annotations, f"{where}.annotations")
            if not annotations:
                self._skip("no_annotations")
                continue
            texts: list[str] = []
            for j, ann in enumerate(annotations):
                a_where = f"{where}.annotations[{j}]"
                ann = expect_object(path, ann, a_where)
                text = expect_key(path, ann, "text", a_where)
                if ann.get("valid") is False:
                    self._skip("invalid_annotation")
                    continue
                if ann.get("language") not in langs:
                    self._skip("other_language_annotation")
                    continue
                if not isinstance(text, str) or not text.strip():
                    self._skip("empty_text_annotation")
                    continue
                if len(text.split()) > options.max_text_words:
                    self._skip("long_text_annotation")
                    continue
                texts.append(text.strip())
            if not texts:
                self._skip("no_kept_text")
                continue
            if options.texts_per_caption == "one" and len(texts) > 1:
                self._skip("several_texts")
                continue
            if options.caption_text == "quote" and isinstance(caption, str):
                caption = quote_texts(caption, texts)
            image_file = f"{root.rstrip('/')}/{name}" if root else str(name)
            self._items.append(SourceItem(
                id=str(name), data={"caption": caption, "texts": texts, "image_file": image_file},
                source="anyword", extra={k: v for k, v in entry.items()
                                         if k not in ("img_name", "caption", "annotations")}))

    def _skip(self, reason: str) -> None:
        self._skipped[reason] = self._skipped.get(reason, 0) + 1

    def total(self) -> int:
        return len(self._items)

    def stats(self) -> Mapping[str, int]:
        return {f"skipped_{k}": v for k, v in sorted(self._skipped.items())}

    def __iter__(self) -> Iterator[SourceItem]:
        yield from self._items


def quote_texts(caption: str, texts: list[str]) -> str:
    """Put ``texts`` into ``caption`` in double quotes (see the module docstring)."""
    caption = caption.strip()
    if caption.count("*") == len(texts):
        for text in texts:
            caption = caption.replace("*", f'"{text}"', 1)
        return caption
    if all(f'"{t}"' in caption for t in texts):
        return caption
    quoted = ", ".join(f'"{t}"' for t in texts)
    noun = "text" if len(texts) == 1 else "texts"
    return f"{caption.rstrip('.')}, with the {noun} {quoted}"
