"""Text checks and caption cleanup shared by generators and post-processors.

Every match is on word boundaries: "red" does not match "covered", and
"cat" matches "cats" only through the plural rule, never as a substring.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Callable, Iterable

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC, collapsed whitespace, stripped."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def words(text: str) -> list[str]:
    """Words in ``text`` (letters and digits; inner hyphens and apostrophes kept)."""
    return _WORD.findall(text)


def word_count(text: str) -> int:
    return len(words(text))


def plural_forms(word: str) -> set[str]:
    """The word and its likely English singular/plural forms, lower-cased."""
    w = word.lower()
    forms = {w}
    if w.endswith(("s", "x", "z", "ch", "sh")):
        forms.add(w + "es")
    else:
        forms.add(w + "s")
    if w.endswith("y") and len(w) > 1 and w[-2] not in "aeiou":
        forms.add(w[:-1] + "ies")
    if w.endswith("f"):
        forms.add(w[:-1] + "ves")
    if w.endswith("fe"):
        forms.add(w[:-2] + "ves")
    if w.endswith("man"):
        forms.add(w[:-3] + "men")
    for suffix, repl in (("ies", "y"), ("ves", "f"), ("es", ""), ("s", ""), ("men", "man")):
        if w.endswith(suffix) and len(w) > len(suffix) + 1:
            forms.add(w[: -len(suffix)] + repl)
    return forms


def mentions(text: str, phrase: str, *, plural: bool = True) -> bool:
    """True when ``phrase`` occurs in ``text`` as whole words (case-insensitive).

    With ``plural``, the phrase's last word may appear in singular or plural.
    """
    target = [w.lower() for w in words(phrase)]
    if not target:
        return False
    hay = [w.lower() for w in words(text)]
    n = len(target)
    last = plural_forms(target[-1]) if plural else {target[-1]}
    for i in range(len(hay) - n + 1):
        if hay[i : i + n - 1] == target[:-1] and hay[i + n - 1] in last:
            return True
    return False


def contains_any_word(text: str, vocabulary: Iterable[str]) -> list[str]:
    """The vocabulary entries that occur in ``text`` as whole words."""
    return [v for v in vocabulary if mentions(text, v, plural=False)]


def dedup_key(text: str) -> str:
    """Case-, punctuation- and whitespace-insensitive key for exact duplicates."""
    return " ".join(w.lower() for w in words(normalize(text)))


_QUOTES = "\"'`“”‘’«»"
_LIST_MARKER = re.compile(r"^(?:[-*•·]+|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)](?=\s))\s*")
_PREFIX = re.compile(r"^(?:caption|answer|sentence|output|description)\s*[:：-]\s*", re.I)
_WORD_NOTE = re.compile(
    r"\s*[-–—(\[]*\s*\(?\s*\d+\s*words?\s*(?:long)?\s*[)\]]?\s*[.!]?\s*$", re.I
)


def clean_caption(text: str) -> str:
    """Strip what models wrap around a caption: list markers, labels, quotes, word-count notes."""
    out = normalize(text)
    for _ in range(3):  # the wrappers nest in any order: '1. "A cat." (3 words)'
        before = out
        out = _LIST_MARKER.sub("", out)
        out = _PREFIX.sub("", out)
        out = _WORD_NOTE.sub("", out)
        out = out.strip().strip(_QUOTES).strip()
        if out == before:
            break
    return normalize(out)


#: Stems per text used as lookup keys: its bottom-k sketch under one fixed hash.
_SKETCH = 4
#: Most recent texts looked at per key; bounds the cost when a key is very common.
_BUCKET_SCAN = 200
#: Candidates scored per query, most shared keys first.
_MAX_CANDIDATES = 50


class NearDuplicateIndex:
    """Remembers texts and tells whether a new one is a near-duplicate of any of them.

    Similarity is rapidfuzz's ``token_sort_ratio`` / 100 when rapidfuzz is
    installed, else a word-bigram Jaccard score; ``threshold`` is on that 0–1
    scale. Candidates are texts sharing a key with the query, the keys being
    a bottom-k sketch of its word stems (the 4 stems with the smallest
    CRC-32): two texts with most words in common almost always share one, and
    each check costs about the same however many texts are stored.
    """

    def __init__(self, threshold: float = 0.9) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        self.threshold = threshold
        self._texts: list[str] = []
        self._exact: set[str] = set()
        self._buckets: dict[int, list[int]] = {}
        self._score: Callable[[str, str], float]
        try:
            from rapidfuzz import fuzz

            cutoff = threshold * 100.0
            # The cutoff lets rapidfuzz give up early on clearly different pairs.
            self._score = lambda a, b: fuzz.token_sort_ratio(a, b, score_cutoff=cutoff) / 100.0
        except ImportError:  # pragma: no cover - depends on the environment
            self._score = _jaccard_bigrams

    def __len__(self) -> int:
        return len(self._texts)

    def match(self, text: str) -> tuple[str, float] | None:
        """The closest stored text with its score, when at or above the threshold."""
        key = dedup_key(text)
        if key in self._exact:
            return key, 1.0
        if self.threshold >= 1.0 or not self._texts:
            return None
        votes: dict[int, int] = {}
        keys = _sketch(key)
        for sketch_key in keys:
            for idx in self._buckets.get(sketch_key, ())[-_BUCKET_SCAN:]:
                votes[idx] = votes.get(idx, 0) + 1
        best: tuple[str, float] | None = None
        # Near-duplicates of a longer text share most of its sketch, not just one key.
        need = 2 if len(keys) >= _SKETCH else 1
        ranked = sorted((kv for kv in votes.items() if kv[1] >= need),
                        key=lambda kv: (-kv[1], -kv[0]))
        for idx, _ in ranked[:_MAX_CANDIDATES]:
            score = self._score(key, self._texts[idx])
            if score >= self.threshold and (best is None or score > best[1]):
                best = (self._texts[idx], score)
        return best

    def add(self, text: str) -> None:
        key = dedup_key(text)
        if key in self._exact:
            return
        self._exact.add(key)
        idx = len(self._texts)
        self._texts.append(key)
        for sketch_key in _sketch(key):
            self._buckets.setdefault(sketch_key, []).append(idx)

    def check_and_add(self, text: str) -> tuple[str, float] | None:
        """:meth:`match`, then :meth:`add` when it is new."""
        found = self.match(text)
        if found is None:
            self.add(text)
        return found


def _sketch(key: str) -> list[int]:
    """Bottom-k sketch of a dedup key's word stems (stable across processes)."""
    stems = {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in key.split()}
    return sorted(zlib.crc32(w.encode()) for w in stems)[:_SKETCH]


def _jaccard_bigrams(a: str, b: str) -> float:
    def grams(s: str) -> set[tuple[str, ...]]:
        w = s.split()
        return {tuple(w[i : i + 2]) for i in range(max(len(w) - 1, 1))}

    ga, gb = grams(a), grams(b)
    return len(ga & gb) / len(ga | gb) if ga | gb else 1.0
