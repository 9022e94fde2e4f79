"""The ``word_blocklist`` post-processor: no record may use a blocked word.

Post-processors see every finished record in item order. Raising
:class:`~instructgen.Reject` drops the record and writes the reason to
``rejects.jsonl``; returning a changed record rewrites it.
"""

from __future__ import annotations

import re
from typing import Literal

import attrs
from instructgen import OutputRecord, PostProcessor, Reject
from instructgen.text import contains_any_word


def _words_given(_inst: object, _attr: object, value: list[str]) -> None:
    if not value or not all(w.strip() for w in value):
        raise ValueError("words must list at least one non-empty word")


@attrs.frozen
class BlocklistOptions:
    """Options of the ``word_blocklist`` post-processor."""

    #: Words (or phrases) to block, matched as whole words, case-insensitive.
    words: list[str] = attrs.field(validator=_words_given)
    #: Payload keys to check; a record without one of them is left alone.
    fields: list[str] = attrs.field(factory=lambda: ["edit", "output"])
    #: ``reject``: drop the record; ``mask``: replace each blocked word with ``***``.
    action: Literal["reject", "mask"] = "reject"


class WordBlocklist(PostProcessor):
    """Drops or masks records that use a blocked word, on word boundaries ("ass" ≠ "glass")."""

    def __init__(self, options: BlocklistOptions) -> None:
        self.options = options
        alternatives = "|".join(re.escape(w.strip()) for w in options.words)
        self._pattern = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)

    def process(self, record: OutputRecord) -> OutputRecord:
        data = dict(record.data)
        for field in self.options.fields:
            text = data.get(field)
            if not isinstance(text, str):
                continue
            found = contains_any_word(text, self.options.words)
            if not found:
                continue
            if self.options.action == "reject":
                raise Reject("blocked_word", f"{field} uses {', '.join(found)}")
            data[field] = self._pattern.sub("***", text)
        return record if data == dict(record.data) else attrs.evolve(record, data=data)
