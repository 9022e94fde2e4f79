"""Sources over concept pools: one item per concept, or one per unordered pair."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from instructgen.errors import UserError
from instructgen.plugin import Source
from instructgen.records import SourceItem

from .pool import Concept, ConceptPool, PoolShape, load_pool


def _files(path: Path | None, paths: list[Path]) -> list[Path]:
    files = ([path] if path is not None else []) + list(paths)
    if not files:
        raise ValueError("give the pool file as path = \"...\" or paths = [\"...\", ...]")
    return files


@attrs.frozen
class ConceptPoolOptions:
    """Options of the ``concept_pool`` source."""

    #: A pool file in any accepted shape (see docs/concepts.md).
    path: Path | None = None
    #: More pool files, merged in order; each concept keeps the files it came from.
    paths: list[Path] = attrs.field(factory=list)
    #: Skip concepts with fewer backgrounds than this (``cb2cap`` wants at least 1).
    min_backgrounds: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    #: How a ``{key: [strings]}`` file is read: ``concept_backgrounds`` (SynCLR) or
    #: ``dataset_classes`` (classname.json); ``auto`` refuses that ambiguous shape.
    shape: PoolShape = "auto"

    def __attrs_post_init__(self) -> None:
        _files(self.path, self.paths)


class ConceptPoolSource(Source):
    """One item per concept: ``concept``, ``concepts``, ``backgrounds`` and ``sources``."""

    def __init__(self, options: ConceptPoolOptions) -> None:
        self.options = options
        self.pool: ConceptPool = load_pool(_files(options.path, options.paths),
                                           shape=options.shape)
        self._skipped = 0

    def _eligible(self, concept: Concept) -> tuple[list[str], str] | None:
        backgrounds, origin = self.pool.backgrounds_for(concept)
        if len(backgrounds) < self.options.min_backgrounds:
            return None
        return backgrounds, origin

    def __iter__(self) -> Iterator[SourceItem]:
        self._skipped = 0
        for concept in self.pool:
            found = self._eligible(concept)
            if found is None:
                self._skipped += 1
                continue
            backgrounds, origin = found
            yield SourceItem(
                id=concept.name,
                data={"concept": concept.name, "concepts": [concept.name],
                      "backgrounds": list(backgrounds), "backgrounds_from": origin,
                      "sources": list(concept.sources)},
                source=concept.sources[0] if concept.sources else "",
            )

    def total(self) -> int:
        return sum(1 for c in self.pool if self._eligible(c) is not None)

    def stats(self) -> Mapping[str, int]:
        return {"concepts": len(self.pool), "merged_duplicates": self.pool.merged_duplicates,
                "skipped_few_backgrounds": self._skipped}


@attrs.frozen
class ConceptPairsOptions:
    """Options of the ``concept_pairs`` source."""

    #: A pool file in any accepted shape.
    path: Path | None = None
    #: More pool files, merged in order.
    paths: list[Path] = attrs.field(factory=list)
    #: How many distinct pairs to sample; unset: every one of the n(n-1)/2 pairs.
    pairs: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1)))
    #: Seed of the pair sample (the same seed and pool give the same pairs).
    seed: int = 0
    #: How a ``{key: [strings]}`` file is read: ``concept_backgrounds`` (SynCLR) or
    #: ``dataset_classes`` (classname.json); ``auto`` refuses that ambiguous shape.
    shape: PoolShape = "auto"

    def __attrs_post_init__(self) -> None:
        _files(self.path, self.paths)


class ConceptPairsSource(Source):
    """Unordered pairs of distinct concepts, streamed without building the pair list.

    Every pair is a rank in ``range(n(n-1)/2)``; sampling draws ranks without
    replacement and maps each back to its two concepts, so no pair repeats and
    memory stays O(n + pairs).
    """

    def __init__(self, options: ConceptPairsOptions) -> None:
        self.options = options
        files = _files(options.path, options.paths)
        self.pool = load_pool(files, shape=options.shape)
        self.concepts = self.pool.concepts
        if len(self.concepts) < 2:
            raise UserError(
                f"{', '.join(map(str, files))}: concept pairs need at least 2 distinct concepts,"
                f" found {len(self.concepts)}")
        self._all_backgrounds: list[str] | None = None

    @property
    def pair_count(self) -> int:
        n = len(self.concepts)
        return n * (n - 1) // 2

    def total(self) -> int:
        pairs = self.options.pairs
        return self.pair_count if pairs is None else min(pairs, self.pair_count)

    def stats(self) -> Mapping[str, int]:
        return {"concepts": len(self.concepts), "possible_pairs": self.pair_count,
                "pairs": self.total()}

    def indices(self) -> Iterator[tuple[int, int]]:
        """Index pairs ``(i, j)``, ``i < j``: all in order, or a seeded sample."""
        n, pairs = len(self.concepts), self.options.pairs
        if pairs is None or pairs >= self.pair_count:
            for i in range(n):
                for j in range(i + 1, n):
                    yield i, j
            return
        rng = random.Random(self.options.seed)
        for rank in rng.sample(range(self.pair_count), pairs):
            yield unrank_pair(rank, n)

    def __iter__(self) -> Iterator[SourceItem]:
        for i, j in self.indices():
            a, b = self.concepts[i], self.concepts[j]
            yield SourceItem(id=f"{a.name}|{b.name}", data=self._data(a, b),
                             source=(a.sources or [""])[0])

    def _data(self, a: Concept, b: Concept) -> dict[str, Any]:
        backgrounds = list(dict.fromkeys([*a.backgrounds, *b.backgrounds]))
        origin = "concepts"
        if not backgrounds:
            backgrounds, origin = self.pool.shared_backgrounds, "pool"
        if not backgrounds:
            if self._all_backgrounds is None:
                self._all_backgrounds = self.pool.all_backgrounds()
            backgrounds, origin = self._all_backgrounds, "pool"
        return {"concepts": [a.name, b.name], "backgrounds": list(backgrounds),
                "backgrounds_from": origin if backgrounds else "none",
                "sources": {a.name: list(a.sources), b.name: list(b.sources)}}


def unrank_pair(rank: int, n: int) -> tuple[int, int]:
    """The ``rank``-th pair ``(i, j)``, ``i < j < n``, in row-major order."""
    total = n * (n - 1) // 2
    if not 0 <= rank < total:
        raise ValueError(f"rank {rank} out of range for {n} items")
    # Row i starts at offset i*(2n-i-1)/2; count rows from the end to invert it.
    from_end = total - 1 - rank
    r = (math.isqrt(8 * from_end + 1) - 1) // 2  # full rows counted from the end
    i = n - 2 - r

    def offset(row: int) -> int:
        return row * (2 * n - row - 1) // 2

    while i > 0 and offset(i) > rank:
        i -= 1
    while offset(i + 1) <= rank:
        i += 1
    return i, i + 1 + rank - offset(i)
