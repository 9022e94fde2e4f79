"""Diversity measures of a set of texts: distinct-n, duplicates, ROUGE-L and self-BLEU.

All work on lower-cased words from :func:`instructgen.text.words`. The pairwise
measures (ROUGE-L, self-BLEU) run on a sample drawn with a fixed seed, so a
report is the same every time it is built from the same files.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence

from instructgen.text import NearDuplicateIndex, dedup_key, words

#: Self-Instruct's cut-off: a text whose ROUGE-L F1 with another is above it is a near-duplicate.
ROUGE_L_CUTOFF = 0.7


def tokens(text: str) -> list[str]:
    return [w.lower() for w in words(text)]


def ngrams(toks: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams over all n-grams of the corpus (Li et al., 2016); 0 when there are none."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        grams = ngrams(tokens(text), n)
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def unique_share(texts: Sequence[str]) -> float:
    """Share of texts that are distinct after ignoring case, punctuation and spacing."""
    if not texts:
        return 0.0
    return len({dedup_key(t) for t in texts}) / len(texts)


def near_duplicate_share(texts: Sequence[str], threshold: float) -> float:
    """Share of texts that are a near-duplicate (or a copy) of an earlier text.

    Uses :class:`~instructgen.text.NearDuplicateIndex` over every text, in file order.
    """
    if not texts:
        return 0.0
    index = NearDuplicateIndex(threshold)
    dupes = sum(index.check_and_add(t) is not None for t in texts)
    return dupes / len(texts)


def sample(texts: Sequence[str], size: int, seed: int) -> list[str]:
    """Up to ``size`` texts drawn without replacement with ``random.Random(seed)``."""
    if len(texts) <= size:
        return list(texts)
    return random.Random(seed).sample(list(texts), size)


def sample_in_order(texts: Sequence[str], size: int, seed: int) -> list[str]:
    """Like :func:`sample`, but the drawn texts keep their order in ``texts``."""
    if len(texts) <= size:
        return list(texts)
    picked = sorted(random.Random(seed).sample(range(len(texts)), size))
    return [texts[i] for i in picked]


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(a: Sequence[str], b: Sequence[str]) -> float:
    """ROUGE-L F1 of two token lists."""
    if not a or not b:
        return 0.0
    lcs = lcs_length(a, b)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(b), lcs / len(a)
    return 2 * precision * recall / (precision + recall)


def rouge_l_duplicate_share(texts: Sequence[str], cutoff: float = ROUGE_L_CUTOFF) -> float:
    """Share of ``texts`` whose ROUGE-L F1 with some other text of the set exceeds ``cutoff``."""
    toks = [tokens(t) for t in texts]
    sets = [set(t) for t in toks]
    flagged = [False] * len(toks)
    for i in range(len(toks)):
        for j in range(i + 1, len(toks)):
            if flagged[i] and flagged[j]:
                continue
            # No shared word means an LCS of 0: skip the quadratic part.
            if not sets[i] & sets[j]:
                continue
            if rouge_l(toks[i], toks[j]) > cutoff:
                flagged[i] = flagged[j] = True
    return sum(flagged) / len(toks) if toks else 0.0


def bleu(hypothesis: Sequence[str], references: Sequence[Sequence[str]], max_n: int = 4) -> float:
    """Sentence BLEU with uniform weights up to ``max_n``, add-one smoothed above unigrams.

    Clipped n-gram precision against the most generous reference; brevity
    penalty against the reference length closest to the hypothesis (shorter wins
    ties), as in Papineni et al. (2002). Smoothing is Lin and Och's (2004)
    add-one for n > 1, so one missing 4-gram does not zero a sentence.
    """
    if not hypothesis or not references:
        return 0.0
    log_sum = 0.0
    for n in range(1, max_n + 1):
        hyp = Counter(ngrams(hypothesis, n))
        total = sum(hyp.values())
        best: Counter[tuple[str, ...]] = Counter()
        for ref in references:
            best |= Counter(ngrams(ref, n))
        matched = sum(min(c, best[g]) for g, c in hyp.items())
        if n == 1:
            if matched == 0:
                return 0.0
            precision = matched / total
        else:
            precision = (matched + 1) / (total + 1)
        log_sum += math.log(precision) / max_n
    hyp_len = len(hypothesis)
    ref_len = min((len(r) for r in references), key=lambda n: (abs(n - hyp_len), n))
    penalty = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return penalty * math.exp(log_sum)


def self_bleu(texts: Sequence[str], max_n: int = 4) -> float:
    """Mean BLEU of each text against all the others as references (Zhu et al., 2018).

    Higher means more alike; 0 for fewer than two texts. Equal to averaging
    :func:`bleu` over the texts, but the most generous reference count of each
    n-gram is found once for the whole set instead of once per text.
    """
    toks = [t for t in (tokens(x) for x in texts) if t]
    if len(toks) < 2:
        return 0.0
    # For each n-gram keep the two largest counts over all texts (and who has the largest),
    # so "the best reference other than me" is one look-up.
    tops: list[dict[tuple[str, ...], tuple[int, int, int]]] = []
    grams = [[Counter(ngrams(t, n)) for n in range(1, max_n + 1)] for t in toks]
    for n in range(max_n):
        top: dict[tuple[str, ...], tuple[int, int, int]] = {}
        for i, per_n in enumerate(grams):
            for g, c in per_n[n].items():
                best, who, second = top.get(g, (0, -1, 0))
                if c > best:
                    top[g] = (c, i, best)
                elif c > second:
                    top[g] = (best, who, c)
        tops.append(top)
    lengths = sorted(len(t) for t in toks)
    scores = []
    for i, t in enumerate(toks):
        log_sum, zero = 0.0, False
        for n in range(max_n):
            hyp = grams[i][n]
            total = sum(hyp.values())
            matched = 0
            for g, c in hyp.items():
                best, who, second = tops[n][g]
                matched += min(c, second if who == i else best)
            if n == 0:
                if matched == 0:
                    zero = True
                    break
                precision = matched / total
            else:
                precision = (matched + 1) / (total + 1)
            log_sum += math.log(precision) / max_n
        if zero:
            scores.append(0.0)
            continue
        hyp_len = len(t)
        others = list(lengths)
        others.remove(hyp_len)
        ref_len = min(others, key=lambda n: (abs(n - hyp_len), n))
        penalty = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
        scores.append(penalty * math.exp(log_sum))
    return sum(scores) / len(scores)
