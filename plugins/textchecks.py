"""Generic post-processors for generated text: cleanup, word limit, coverage, dedup.

Each is its own plugin and works on any generator's records through the
``field`` option (the payload key holding the text). A check that fails
raises :class:`~instructgen.errors.Reject` with a short reason and a detail
that names the numbers or words involved.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from instructgen.errors import Reject
from instructgen.manager import hookimpl
from instructgen.plugin import PostProcessor, PostProcessorPlugin
from instructgen.records import OutputRecord
from instructgen.text import NearDuplicateIndex, clean_caption, mentions, word_count


def _text(record: OutputRecord, field: str) -> str:
    value = record.data.get(field)
    if not isinstance(value, str):
        have = ", ".join(sorted(record.data)) or "nothing"
        raise Reject("missing_field", f"record has no text field {field!r} (has: {have})")
    return value


@attrs.frozen
class CleanupOptions:
    """Options of ``caption_cleanup``."""

    #: Payload key holding the text.
    field: str = "caption"
    #: Upper-case the first letter.
    capitalize: bool = True


class CaptionCleanup(PostProcessor):
    """Rewrites the text without wrappers; an empty result is rejected."""

    def __init__(self, options: CleanupOptions) -> None:
        self.options = options

    def process(self, record: OutputRecord) -> OutputRecord:
        field = self.options.field
        raw = _text(record, field)
        cleaned = clean_caption(raw)
        if not cleaned:
            raise Reject("empty_text", f"{field!r} is empty after cleanup", raw=raw)
        if self.options.capitalize:
            cleaned = cleaned[0].upper() + cleaned[1:]
        if cleaned == raw:
            return record
        return attrs.evolve(record, data={**record.data, field: cleaned})


@attrs.frozen
class WordLimitOptions:
    """Options of ``word_limit``."""

    #: Payload key holding the text.
    field: str = "caption"
    #: Most words allowed.
    max_words: int = attrs.field(default=12, validator=attrs.validators.ge(1))
    #: Fewest words allowed.
    min_words: int = attrs.field(default=1, validator=attrs.validators.ge(0))

    def __attrs_post_init__(self) -> None:
        if self.min_words > self.max_words:
            raise ValueError(f"min_words ({self.min_words}) exceeds max_words ({self.max_words})")


class WordLimit(PostProcessor):
    """Rejects texts outside ``[min_words, max_words]``."""

    def __init__(self, options: WordLimitOptions) -> None:
        self.options = options

    def process(self, record: OutputRecord) -> OutputRecord:
        o = self.options
        n = word_count(_text(record, o.field))
        if n > o.max_words:
            raise Reject("too_long", f"{n} words > max_words {o.max_words}")
        if n < o.min_words:
            raise Reject("too_short", f"{n} words < min_words {o.min_words}")
        return record


@attrs.frozen
class CoverageOptions:
    """Options of ``concept_coverage``."""

    #: Payload key holding the text.
    field: str = "caption"
    #: Payload keys holding the concepts to find (a string or a list of strings each).
    concept_fields: list[str] = attrs.field(factory=lambda: ["concept", "concepts"])
    #: Accept the plural (or singular) of a concept's last word.
    plural: bool = True


class ConceptCoverage(PostProcessor):
    """Rejects texts that do not mention every concept of their record, as whole words."""

    def __init__(self, options: CoverageOptions) -> None:
        self.options = options

    def process(self, record: OutputRecord) -> OutputRecord:
        text = _text(record, self.options.field)
        wanted: list[str] = []
        for key in self.options.concept_fields:
            value = record.data.get(key)
            if isinstance(value, str):
                wanted.append(value)
            elif isinstance(value, list):
                wanted.extend(v for v in value if isinstance(v, str))
        if not wanted:
            raise Reject("missing_field", f"record has none of the concept fields "
                                          f"{self.options.concept_fields}")
        missing = [c for c in dict.fromkeys(wanted)
                   if not mentions(text, c, plural=self.options.plural)]
        if missing:
            raise Reject("missing_concept",
                         f"text does not mention {', '.join(map(repr, missing))}")
        return record


@attrs.frozen
class DedupOptions:
    """Options of ``dedup``."""

    #: Payload key holding the text.
    field: str = "caption"
    #: Similarity (0-1, rapidfuzz token-sort ratio) at which a text is a near-duplicate;
    #: 1.0 drops exact duplicates only (case, spacing and punctuation ignored).
    near_threshold: float = attrs.field(default=0.9)

    @near_threshold.validator
    def _check(self, _attr: Any, value: float) -> None:
        if not 0.0 < value <= 1.0:
            raise ValueError(f"near_threshold must be in (0, 1], got {value}")


class Dedup(PostProcessor):
    """Drops texts already seen in this run, exactly or nearly; resume keeps the memory."""

    def __init__(self, options: DedupOptions) -> None:
        self.options = options
        self.index = NearDuplicateIndex(options.near_threshold)

    def process(self, record: OutputRecord) -> OutputRecord:
        text = _text(record, self.options.field)
        found = self.index.match(text)
        if found is not None:
            other, score = found
            if score >= 1.0:
                raise Reject("duplicate", f"same text as an earlier record: {other!r}")
            raise Reject("near_duplicate", f"{score:.2f} similar to {other!r} "
                                           f"(threshold {self.options.near_threshold})")
        self.index.add(text)
        return record

    def restore(self, accepted: Iterable[OutputRecord]) -> None:
        for record in accepted:
            value = record.data.get(self.options.field)
            if isinstance(value, str):
                self.index.add(value)


def text_field(options: CleanupOptions | WordLimitOptions | CoverageOptions | DedupOptions,
               ) -> frozenset[str]:
    """Each check reads its ``field`` from every record (``_text`` rejects a record without)."""
    return frozenset({options.field})


@hookimpl
def instructgen_postprocessors() -> Iterator[PostProcessorPlugin]:
    yield PostProcessorPlugin(
        name="caption_cleanup",
        description="Strip quotes, list markers, labels and '(11 words)' notes from a text.",
        options=CleanupOptions, factory=CaptionCleanup, needs=text_field)
    yield PostProcessorPlugin(
        name="word_limit", description="Reject texts with too many or too few words.",
        options=WordLimitOptions, factory=WordLimit, needs=text_field)
    yield PostProcessorPlugin(
        name="concept_coverage",
        description="Reject texts that do not mention every concept of their record.",
        options=CoverageOptions, factory=ConceptCoverage, needs=text_field)
    yield PostProcessorPlugin(
        name="dedup", description="Reject exact and near-duplicate texts within a run.",
        options=DedupOptions, factory=Dedup, needs=text_field)

