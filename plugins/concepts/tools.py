"""The work behind ``instructgen concepts merge|dedup|stats|filter``.

Kept apart from the argument parsing so each step can be used (and tested)
as a library function.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from instructgen.backend import Completion, LLMRequest
from instructgen.seeds import derive_seed
from instructgen.text import NearDuplicateIndex

from .phrases import lemma_key
from .pool import Concept, ConceptPool, PoolError
from .prompts import YES_NO_SCHEMA, photographable_prompt

Shape = Literal["merged", "dict", "list"]
EMBEDDINGS_MISSING = (
    "sentence-transformers is not installed, so near-duplicates by embedding similarity "
    "were not checked (pip install sentence-transformers); used normalization, lemmas"
)


def pool_json(pool: ConceptPool, shape: Shape = "merged") -> Any:
    """The pool in one of the accepted shapes; only ``merged`` keeps provenance."""
    if shape == "list":
        return [c.name for c in pool]
    if shape == "dict":
        return {c.name: pool.backgrounds_for(c)[0] for c in pool}
    return pool.to_json()


def write_pool(pool: ConceptPool, path: Path, shape: Shape = "merged") -> None:
    text = json.dumps(pool_json(pool, shape), ensure_ascii=False, indent=1)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise PoolError(f"{path}: cannot write the pool ({exc})") from None


# -- dedup --------------------------------------------------------------------------------


@attrs.define
class DedupReport:
    """What dedup merged, by method: each entry is (kept name, merged name)."""

    before: int = 0
    after: int = 0
    merges: dict[str, list[tuple[str, str]]] = attrs.field(
        factory=lambda: {"lemma": [], "fuzzy": [], "embedding": []})
    embeddings: str = "not requested"


def dedup_pool(
    pool: ConceptPool,
    *,
    fuzzy_threshold: float | None = 0.92,
    embedding_threshold: float | None = None,
    embed: Callable[[list[str]], Any] | None = None,
) -> tuple[ConceptPool, DedupReport]:
    """Merge concepts that are the same after normalization and lemmas, then near ones.

    ``embed`` maps names to unit vectors (sentence-transformers); without it the
    embedding step is skipped and the report says so.
    """
    report = DedupReport(before=len(pool))
    groups: dict[str, list[Concept]] = {}
    for concept in pool:
        groups.setdefault(lemma_key(concept.name), []).append(concept)
    kept: list[list[Concept]] = []
    index = NearDuplicateIndex(fuzzy_threshold) if fuzzy_threshold else None
    by_key: dict[str, list[Concept]] = {}
    for key, members in groups.items():
        report.merges["lemma"].extend((members[0].name, m.name) for m in members[1:])
        found = index.match(key) if index is not None else None
        if found is not None:
            target = by_key[found[0]]
            report.merges["fuzzy"].extend((target[0].name, m.name) for m in members)
            target.extend(members)
            continue
        if index is not None:
            index.add(key)
        by_key[key] = members
        kept.append(members)
    if embed is not None and embedding_threshold is not None and len(kept) > 1:
        kept = _merge_by_embedding(kept, embed, embedding_threshold, report)
    out = ConceptPool()
    out.shared_backgrounds = list(pool.shared_backgrounds)
    for members in kept:
        head = members[0]
        for m in members:
            merged = out.add(head.name, m.backgrounds, m.sources, m.notes)
        aliases = list(dict.fromkeys(
            a for m in members for a in [m.name, *m.notes.get("aliases", [])] if a != head.name))
        if aliases:
            merged.notes["aliases"] = aliases
    out.merged_duplicates = 0
    report.after = len(out)
    return out, report


def _merge_by_embedding(kept: list[list[Concept]], embed: Callable[[list[str]], Any],
                        threshold: float, report: DedupReport) -> list[list[Concept]]:
    import numpy as np

    names = [members[0].name for members in kept]
    vectors = np.asarray(embed(names), dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    parent = list(range(len(names)))
    block = 1024
    # Blocked similarity: each row is compared with earlier rows only, so the
    # first-seen name wins and memory stays at block x n.
    for start in range(0, len(names), block):
        sims = vectors[start:start + block] @ vectors.T
        for r, row in enumerate(sims):
            i = start + r
            if parent[i] != i:
                continue
            earlier = np.nonzero(row[:i] >= threshold)[0]
            roots = [j for j in earlier if parent[j] == j]
            if roots:
                parent[i] = int(roots[0])
                report.merges["embedding"].append((names[roots[0]], names[i]))
    merged: list[list[Concept]] = []
    slot: dict[int, list[Concept]] = {}
    for i, members in enumerate(kept):
        root = parent[i]
        if root == i:
            slot[i] = list(members)
            merged.append(slot[i])
        else:
            slot[root].extend(members)
    return merged


def sentence_transformer_embedder(model: str) -> Callable[[list[str]], Any] | None:
    """An embedding function, or ``None`` when sentence-transformers is not installed."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    encoder = SentenceTransformer(model)
    return lambda names: encoder.encode(names, normalize_embeddings=True)


# -- stats --------------------------------------------------------------------------------


def pool_stats(pool: ConceptPool) -> dict[str, Any]:
    """Counts per source file and the spread of background counts per concept."""
    per_source: dict[str, dict[str, int]] = {}
    for concept in pool:
        for src in concept.sources or ["(unknown)"]:
            row = per_source.setdefault(src, {"concepts": 0, "with_backgrounds": 0})
            row["concepts"] += 1
            row["with_backgrounds"] += bool(concept.backgrounds)
    counts = [len(c.backgrounds) for c in pool]
    with_bg = [n for n in counts if n]
    spread = ({"min": min(with_bg), "median": statistics.median(with_bg),
               "mean": round(statistics.fmean(with_bg), 2), "max": max(with_bg)}
              if with_bg else {})
    return {
        "concepts": len(pool),
        "merged_duplicates": pool.merged_duplicates,
        "with_backgrounds": len(with_bg),
        "shared_backgrounds": len(pool.shared_backgrounds),
        "backgrounds_per_concept": spread,
        "files_read": dict(pool.per_source),
        "per_source": per_source,
        "per_concept": {c.name: len(c.backgrounds) for c in pool},
    }


# -- filter -------------------------------------------------------------------------------


def parse_yes_no(answer: Completion) -> str:
    """``yes``, ``no`` or ``unclear``: the answer must *be* yes or no, not contain it."""
    value: Any = answer.parsed
    if value is None:
        try:
            value = json.loads(answer.text)
        except ValueError:
            value = answer.text
    if isinstance(value, dict):
        value = value.get("answer")
    if isinstance(value, str):
        word = value.strip().strip(".!\"' ").lower()
        if word in ("yes", "no"):
            return word
    return "unclear"


def ask_photographable(
    backend: Any, names: Sequence[str], *, batch_size: int = 16, seed: int = 0,
    on_batch: Callable[[int], None] | None = None,
) -> Iterable[tuple[str, str, str]]:
    """(name, answer, raw text) per concept, asked in batches of ``batch_size``."""
    for start in range(0, len(names), batch_size):
        chunk = names[start:start + batch_size]
        requests = [LLMRequest(messages=photographable_prompt(name), max_tokens=12,
                               temperature=0.0, seed=derive_seed(seed, "filter", name),
                               schema=YES_NO_SCHEMA) for name in chunk]
        answers = backend.generate(requests)
        if len(answers) != len(chunk):
            raise RuntimeError(f"backend returned {len(answers)} answers for {len(chunk)}")
        for name, answer in zip(chunk, answers, strict=True):
            yield name, parse_yes_no(answer), answer.text
        if on_batch is not None:
            on_batch(start + len(chunk))


# -- curate: the reference's rule filters ---------------------------------------------------
#
# The reference curated its concept pool with spaCy (nouns only, no PERSON entities),
# NLTK's English word list and WordNet lemmas, then asked GPT-4o to drop proper nouns,
# species and models, and collapsed fine-grained classes by their last word. spaCy's
# English model and NLTK's data are not on PyPI, so these filters are word-shape
# heuristics plus the English word list of ``pyspellchecker`` (extra ``sense``), used
# when it is installed. They judge the name alone, without a tagger: see
# docs/concepts.md for what that misses.

#: Words that are never a concept's head noun.
_NOT_NOUN_TEXT = """
a an the this that these those some any each every no and or but of in on at to for with
from by as into onto over under above below near behind very too so not is are was were be
been being have has had do does did can could will would should may might must it its they
them their he she his her we our you your i me my one two three four five six seven eight
nine ten
"""
_NOT_NOUNS = frozenset(_NOT_NOUN_TEXT.split())
#: Endings of adjectives and adverbs ("beautiful", "quickly"); a head word with one is
#: not taken for a noun.
_NOT_NOUN_ENDINGS = ("ly", "ous", "ful", "ive", "able", "ible", "less", "ish", "ical")
#: How common (pyspellchecker's count) a capitalised word must be, lower-cased, to be
#: taken for an ordinary word written with a capital ("Motor") rather than a name ("Ford").
COMMON_WORD_COUNT = 2000


@attrs.frozen
class Dropped:
    """One concept a curation filter left out, and why."""

    name: str
    filter: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"concept": self.name, "filter": self.filter, "reason": self.reason}


@attrs.define
class CurationReport:
    """What :func:`curate_pool` dropped (by filter) and which classes it collapsed."""

    before: int = 0
    after: int = 0
    dropped: list[Dropped] = attrs.field(factory=list)
    #: (category, fine-grained name) per collapsed class.
    collapsed: list[tuple[str, str]] = attrs.field(factory=list)
    #: Which word list judged English words ("pyspellchecker", or "none: ...").
    word_list: str = ""

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.dropped:
            out[d.filter] = out.get(d.filter, 0) + 1
        return out


def _word_counts() -> dict[str, int] | None:
    from instructgen.plugins.sense import _dictionary

    return _dictionary()


def not_a_noun(name: str, lexicon: dict[str, int] | None) -> str | None:
    """Why ``name``'s head (its last word) is not a noun, or ``None``."""
    ws = name.split()
    head = ws[-1].lower() if ws else ""
    if not head.isalpha():
        return f"its last word {head!r} is not a word"
    if head in _NOT_NOUNS:
        return f"its last word {head!r} is a function word"
    if head.endswith(_NOT_NOUN_ENDINGS) and len(head) > 5:
        return f"its last word {head!r} ends like an adjective or adverb"
    if lexicon is not None and not any(f in lexicon for f in _noun_forms(head)):
        return f"{head!r} is not in the English word list"
    return None


def _noun_forms(word: str) -> tuple[str, ...]:
    forms = [word]
    if word.endswith("ies"):
        forms.append(word[:-3] + "y")
    if word.endswith("es"):
        forms.append(word[:-2])
    if word.endswith("s"):
        forms.append(word[:-1])
    return tuple(forms)


def proper_noun(name: str, lexicon: dict[str, int] | None) -> str | None:
    """Why ``name`` is a person's name, a proper noun or a model, or ``None``.

    A word with a digit is a model ("Boeing 747"); a capitalised word whose lower case
    is not a common English word is a name ("Ford Motor", "Winter Wren", "Ada Lovelace").
    """
    for word in name.split():
        if any(ch.isdigit() for ch in word):
            return f"{word!r} has a digit: a model or a number, not a kind of thing"
    for word in name.split():
        if word[:1].isupper() and not word.isupper():
            low = word.lower()
            count = lexicon.get(low, 0) if lexicon is not None else 0
            if count < COMMON_WORD_COUNT:
                return (f"{word!r} is capitalised and not a common English word: a person's "
                        "name or a proper noun")
    return None


def curate_pool(
    pool: ConceptPool,
    *,
    nouns: bool = True,
    proper_nouns: bool = True,
    collapse: bool = True,
    min_backgrounds: int = 5,
) -> tuple[ConceptPool, CurationReport]:
    """The reference's curation, each step switchable, every drop reported with a reason.

    Steps, in order: ``proper_nouns`` (person names, proper nouns, models), ``nouns``
    (the head word can be a noun, and is English when the word list is installed),
    ``collapse`` (a multi-word concept whose last word is another concept of the pool,
    or the last word of two or more, merges into that category: "golden retriever" and
    "labrador retriever" into "retriever"), then ``min_backgrounds`` (a concept needs
    that many backgrounds of its own or the pool's; 0 turns it off).
    """
    lexicon = _word_counts()
    report = CurationReport(before=len(pool), word_list="pyspellchecker" if lexicon else
                            "none: pyspellchecker is not installed (extra 'sense'); the "
                            "noun filter used word shapes only")
    kept: list[Concept] = []
    for concept in pool:
        why = proper_noun(concept.name, lexicon) if proper_nouns else None
        if why is not None:
            report.dropped.append(Dropped(concept.name, "proper_noun", why))
            continue
        why = not_a_noun(concept.name, lexicon) if nouns else None
        if why is not None:
            report.dropped.append(Dropped(concept.name, "noun_only", why))
            continue
        kept.append(concept)
    target = _categories(kept) if collapse else {}
    out = ConceptPool()
    out.shared_backgrounds = list(pool.shared_backgrounds)
    for concept in kept:
        category = target.get(concept.name)
        if category is not None:
            report.collapsed.append((category, concept.name))
            merged = out.add(category, concept.backgrounds, concept.sources)
            merged.notes.setdefault("collapsed_from", []).append(concept.name)
        else:
            out.add(concept.name, concept.backgrounds, concept.sources, concept.notes)
    out.merged_duplicates = 0
    if min_backgrounds > 0:
        final = ConceptPool()
        final.shared_backgrounds = list(out.shared_backgrounds)
        for concept in out:
            n = len(out.backgrounds_for(concept)[0])
            if n < min_backgrounds:
                report.dropped.append(Dropped(concept.name, "min_backgrounds",
                                              f"{n} background(s), fewer than "
                                              f"{min_backgrounds}"))
                continue
            final.add(concept.name, concept.backgrounds, concept.sources, concept.notes)
        final.merged_duplicates = 0
        out = final
    report.after = len(out)
    return out, report


def _categories(concepts: Sequence[Concept]) -> dict[str, str]:
    """Fine-grained name -> its category (the shared last word), for collapsible names."""
    names = {c.name.lower() for c in concepts}
    by_head: dict[str, list[str]] = {}
    for c in concepts:
        ws = c.name.split()
        if len(ws) > 1:
            by_head.setdefault(ws[-1].lower(), []).append(c.name)
    return {name: head for head, members in by_head.items()
            if head in names or len(members) > 1 for name in members}
