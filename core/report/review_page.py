"""``review.html``: one self-contained page to look at a run's records and label them.

The page needs no server and no network: the records travel inside it as
compact JSON (rows of :data:`ROW_COLUMNS`, in chunks that the page parses one
per browser task, so a run of 100,000 records opens without freezing), its
script and style are inline, and images are thumbnails in the run directory
(or the originals) linked by relative path, so it works from ``file://``.
Labels live in the browser's storage until exported as ``labels.jsonl``
(:mod:`.labels`).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import random
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from .labels import REASONS, rejection_ids
from .metrics import rejection_edit_type
from .rundata import RunData, edit_type_of, load_run, payload

REVIEW_FILE = "review.html"
#: Thumbnails made once per source image, kept in the run directory.
THUMBS_DIR = "review-thumbs"
THUMB_SIZE = 320
#: What each row of the embedded data holds, in order (the page reads this list).
ROW_COLUMNS: tuple[str, ...] = ("id", "status", "type", "edit", "input", "output", "fields",
                                "reason", "stage", "detail", "image", "image_name")
#: Payload keys a card shows on their own lines rather than among the fields.
_SHOWN = frozenset({"edit", "input", "output", "edit_type", "image_file"})
#: Payload keys that only say how a record was made; a reviewer does not need them.
_BOOKKEEPING = frozenset({"few_shot", "prefilter"})
_ROWS_PER_CHUNK = 2000
#: Keys holding the card's main text, in order: instructions, then captions and phrases.
_TEXT_KEYS = ("edit", "instruction", "caption", "text", "backgrounds")
#: Keys holding the caption before and after the edit (edit and implicit generators).
_INPUT_KEYS = ("input", "original_caption")
_OUTPUT_KEYS = ("output", "target_caption")


def _paths(value: Iterable[str | Path]) -> tuple[Path, ...]:
    return tuple(map(Path, value))


@attrs.frozen
class ReviewOptions:
    """What goes on the page."""

    #: Folders the records' ``image_file`` is relative to (COCO, LLaVA or AnyWord roots).
    images: tuple[Path, ...] = attrs.field(default=(), converter=_paths)
    #: Show a seeded random sample of this many records (accepted and rejected) instead of all.
    sample: int | None = attrs.field(default=None, validator=attrs.validators.optional(
        attrs.validators.ge(1)))
    seed: int = 0
    #: Make small JPEG thumbnails with Pillow (when installed) instead of linking originals.
    thumbnails: bool = True
    page_size: int = attrs.field(default=50, validator=attrs.validators.ge(1))


@attrs.frozen
class ReviewResult:
    """Where the page went and what it holds."""

    path: Path
    records: int
    rejections: int
    images_found: int
    images_missing: int
    thumbnails_made: int
    #: Why originals are linked instead of thumbnails (``None`` when thumbnails were made).
    thumbnails_skipped: str | None
    size_bytes: int


def _first(data: Mapping[str, Any], keys: Sequence[str]) -> tuple[str | None, str]:
    """The first of ``keys`` the payload has as text (a list of phrases joined), and its text."""
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value:
            return key, value
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return key, "; ".join(value)
    return None, ""


def _record_texts(data: Mapping[str, Any]) -> tuple[str, str, str, set[str]]:
    """A record's main text, caption before and after, and the keys they came from."""
    turns = data.get("turns")
    if isinstance(turns, list) and turns:
        used: tuple[str | None, str] = ("turns", "\n".join(
            f"{k}. {t.get('edit', '')}" for k, t in enumerate(turns, 1)
            if isinstance(t, Mapping)))
    else:
        used = _first(data, _TEXT_KEYS)
    before, after = _first(data, _INPUT_KEYS), _first(data, _OUTPUT_KEYS)
    keys = {k for k in (used[0], before[0], after[0]) if k}
    return used[1], before[1], after[1], keys


def _fields(data: Mapping[str, Any], shown: set[str]) -> dict[str, Any] | int:
    out = {k: v for k, v in data.items()
           if k not in _SHOWN and k not in shown and k not in _BOOKKEEPING and v is not None
           and k != "turns"}
    turns = data.get("turns")
    if isinstance(turns, list):
        for k, turn in enumerate(turns, 1):
            if isinstance(turn, Mapping):
                out.update({f"turn {k} {key}": v for key, v in turn.items()
                            if key not in ("edit", *_BOOKKEEPING) and v is not None})
    return out or 0  # 0 keeps an empty row short


def _raw_answer(raw: Any) -> dict[str, Any]:
    """A rejected answer's fields when the raw model text is a JSON object (never evaluated)."""
    if not isinstance(raw, str):
        return {}
    try:
        obj = json.loads(raw)
    except ValueError:
        return {"raw answer": raw}
    return obj if isinstance(obj, dict) else {"raw answer": raw}


class _Table:
    """Strings replaced by their position in a list: types and reasons repeat a lot."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}

    def code(self, name: str | None) -> int:
        if not name:
            return -1
        if name not in self._index:
            self._index[name] = len(self.names)
            self.names.append(name)
        return self._index[name]


class _Images:
    """Finds each record's image under the ``--images`` roots; thumbnails it once."""

    def __init__(self, roots: Sequence[Path], page_dir: Path, thumbs: Path | None) -> None:
        self.roots, self.page_dir, self.thumbs = roots, page_dir, thumbs
        self.found = self.missing = self.made = 0
        self.skipped: str | None = None
        self._pil: Any = None
        if thumbs is not None:
            try:
                from PIL import Image
            except ImportError:
                self.skipped = "Pillow is not installed (pip install pillow); originals linked"
            else:
                self._pil = Image
        else:
            self.skipped = "turned off (--no-thumbnails); originals linked"
        self._done: dict[str, str | None] = {}

    def locate(self, name: str) -> Path | None:
        given = Path(name)
        candidates = [given] if given.is_absolute() else []
        for root in self.roots:
            candidates += [root / name, root / given.name]
        return next((c for c in candidates if c.is_file()), None)

    def src(self, name: Any) -> str | None:
        """The page's link to ``name``'s image (a thumbnail when it can make one)."""
        if not isinstance(name, str) or not name or not self.roots:
            return None
        if name in self._done:
            return self._done[name]
        path = self.locate(name)
        link = None
        if path is None:
            self.missing += 1
        else:
            self.found += 1
            link = self._link(self._thumbnail(path) or path)
        self._done[name] = link
        return link

    def _thumbnail(self, path: Path) -> Path | None:
        if self._pil is None or self.thumbs is None:
            return None
        st = path.stat()
        key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
        thumb = self.thumbs / f"{key[:20]}.jpg"
        if thumb.is_file():
            return thumb
        try:
            with self._pil.open(path) as im:
                im.thumbnail((THUMB_SIZE, THUMB_SIZE))
                self.thumbs.mkdir(parents=True, exist_ok=True)
                tmp = thumb.with_suffix(".tmp")
                im.convert("RGB").save(tmp, "JPEG", quality=80)
                os.replace(tmp, thumb)
        except (OSError, ValueError):  # not an image Pillow reads: link the file itself
            return None
        self.made += 1
        return thumb

    def _link(self, path: Path) -> str:
        try:
            rel = os.path.relpath(path.resolve(), self.page_dir.resolve())
        except ValueError:  # another drive on Windows
            return path.resolve().as_uri()
        return Path(rel).as_posix().replace("%", "%25").replace("#", "%23").replace("?", "%3F")


def review_rows(run: RunData, images: _Images, types: _Table, reasons: _Table,
                keep: frozenset[int] | None = None) -> list[list[Any]]:
    """One row per accepted record, then per rejection line, in :data:`ROW_COLUMNS` order.

    ``keep``: only these positions (records first, then rejection lines), so a
    sample resolves and thumbnails only the images it shows.
    """
    rows: list[list[Any]] = []
    for n, rec in enumerate(run.records):
        if keep is not None and n not in keep:
            continue
        data = payload(rec)
        image = data.get("image_file")
        text, before, after, shown = _record_texts(data)
        rows.append([str(rec.get("id")), 0, types.code(edit_type_of(rec)), text, before, after,
                     _fields(data, shown), -1, "", "", images.src(image),
                     image if isinstance(image, str) else ""])
    for n, (rid, rej) in enumerate(zip(rejection_ids(run.rejections), run.rejections,
                                       strict=True), len(run.records)):
        if keep is not None and n not in keep:
            continue
        given = rej.get("data")
        data = given if isinstance(given, Mapping) else {}
        answer = _raw_answer(rej.get("raw"))
        image = data.get("image_file")
        rest = {k: v for k, v in {**data, **answer}.items()
                if k not in _SHOWN and k not in ("caption", "turn") and v is not None}
        if data.get("turn"):
            rest["turn"] = data["turn"]
        rows.append([rid, 1, types.code(rejection_edit_type(rej)),
                     str(answer.get("edit") or ""),
                     str(data.get("input") or data.get("caption") or ""),
                     str(answer.get("output") or ""), rest or 0,
                     reasons.code(str(rej.get("reason") or "unknown")),
                     str(rej.get("stage") or ""), str(rej.get("detail") or ""),
                     images.src(image), image if isinstance(image, str) else ""])
    return rows


def _script_json(obj: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``<`` can close or open a tag."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def render_page(run: RunData, rows: Sequence[Sequence[Any]], types: Sequence[str],
                reasons: Sequence[str], *, page_size: int = 50, note: str = "") -> str:
    """The page's HTML with ``rows`` embedded."""
    recipe_hash = str(run.manifest.get("recipe_hash") or "")
    run_name = run.path.resolve().name
    meta = {
        "run_dir": str(run.path), "recipe_hash": recipe_hash, "total": len(rows),
        "storage_key": f"instructgen-review:{run_name}:{recipe_hash}",
        "columns": list(ROW_COLUMNS), "types": list(types), "reasons": list(reasons),
        "label_reasons": list(REASONS), "page_size": page_size,
        "labels": {rid: [lab.label, lab.reason] for rid, lab in run.labels.items()},
    }
    chunks = "\n".join(
        f'<script type="application/json" class="ig-chunk">'
        f"{_script_json(list(rows[i:i + _ROWS_PER_CHUNK]))}</script>"
        for i in range(0, len(rows), _ROWS_PER_CHUNK))
    accepted = sum(1 for r in rows if r[1] == 0)
    summary = (f"{accepted:,} accepted records and {len(rows) - accepted:,} rejection lines"
               f"{note} · recipe {recipe_hash[:12] or 'unknown'} · labels are keyed by record "
               f"id and this recipe hash")
    template = resources.files("instructgen.report").joinpath("review_page.html").read_text(
        encoding="utf-8")
    # The data and meta go in last, so text inside them is never taken for a placeholder.
    page = (template.replace("__IG_TITLE__", html.escape(f"Review: {run_name}"))
            .replace("__IG_SUMMARY__", html.escape(summary)))
    head, tail = page.split("__IG_META__", 1)
    before, after = tail.split("__IG_CHUNKS__", 1)
    return "".join([head, _script_json(meta), before, chunks, after])


def write_review(run_dir: str | Path, out: str | Path | None = None,
                 options: ReviewOptions | None = None) -> ReviewResult:
    """Write ``review.html`` (into the run directory unless ``out`` names a file)."""
    opts = options or ReviewOptions()
    run = load_run(run_dir)
    for root in opts.images:
        if not root.is_dir():
            from instructgen.errors import UserError

            raise UserError(f"--images {root}: no such folder")
    path = Path(out) if out is not None else run.path / REVIEW_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    images = _Images(opts.images, path.parent,
                     run.path / THUMBS_DIR if opts.thumbnails else None)
    total = len(run.records) + len(run.rejections)
    keep, note = None, ""
    if opts.sample is not None and opts.sample < total:
        keep = frozenset(random.Random(opts.seed).sample(range(total), opts.sample))
        note = f" (a sample of {opts.sample:,} of {total:,}, seed {opts.seed})"
    types, reasons = _Table(), _Table()
    rows = review_rows(run, images, types, reasons, keep)
    text = render_page(run, rows, types.names, reasons.names, page_size=opts.page_size,
                       note=note)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    accepted = sum(1 for r in rows if r[1] == 0)
    return ReviewResult(path, accepted, len(rows) - accepted, images.found, images.missing,
                        images.made, images.skipped if images.found else None,
                        path.stat().st_size)


__all__ = ["REVIEW_FILE", "ROW_COLUMNS", "ReviewOptions", "ReviewResult", "render_page",
           "review_rows", "write_review"]
