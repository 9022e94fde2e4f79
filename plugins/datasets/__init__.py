"""Caption datasets as sources: COCO, LLaVA-CC3M, generic tables, AnyWord-3M, run records,
and AnyEdit's own instruction files.

Every source yields items whose ``data`` has ``caption`` and, where the
dataset has them, ``image_file`` and ``url``; fields no generator needs go to
``extra`` so they reach the output untouched.
"""

from __future__ import annotations

from collections.abc import Iterator

from instructgen.manager import hookimpl
from instructgen.plugin import SourcePlugin

from .anyedit_records import AnyEditRecordsOptions, AnyEditRecordsSource
from .anyword import AnyWordOptions, AnyWordSource
from .captions import CaptionsOptions, CaptionsSource
from .coco import CocoOptions, CocoSource
from .llava import LlavaOptions, LlavaSource
from .records import RecordsOptions, RecordsSource
from .shape import DatasetError


@hookimpl
def instructgen_sources() -> Iterator[SourcePlugin]:
    yield SourcePlugin(name="coco", options=CocoOptions, factory=CocoSource,
                       description="COCO captions (official captions_*.json or AnyEdit's "
                                   "image_caption.json), one or all captions per image.")
    yield SourcePlugin(name="llava_cc3m", options=LlavaOptions, factory=LlavaSource,
                       description="LLaVA-CC3M-Pretrain-595K: an [{image_file, caption}] list "
                                   "or the release's metadata.json.")
    yield SourcePlugin(name="captions", options=CaptionsOptions, factory=CaptionsSource,
                       description="Any caption table (JSONL, JSON, CSV, TSV, Parquet) with "
                                   "configurable caption and image/url columns.")
    yield SourcePlugin(name="anyword", options=AnyWordOptions, factory=AnyWordSource,
                       description="AnyWord-3M OCR data.json: entries with Latin text, the text "
                                   "quoted into the caption.")
    yield SourcePlugin(name="records", options=RecordsOptions, factory=RecordsSource,
                       description="Records of an earlier instructgen run (records.jsonl), "
                                   "e.g. c2cap captions or remove/replace edits.")
    yield SourcePlugin(name="anyedit_records", options=AnyEditRecordsOptions,
                       factory=AnyEditRecordsSource,
                       description="AnyEdit's own instruction files (keys with spaces; JSON "
                                   "lines, a JSON list, multi-turn arrays), including the "
                                   "remove/replace image stage's output for visual_* records.")


__all__ = [
    "AnyEditRecordsSource",
    "AnyWordSource",
    "CaptionsSource",
    "CocoSource",
    "DatasetError",
    "LlavaSource",
    "RecordsSource",
]
