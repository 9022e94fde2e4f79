"""Diversity measures against answers worked out by hand in each test."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from instructgen.report import diversity as d


def test_distinct_n_counts_unique_ngrams_over_all_ngrams():
    corpus = ["Add a red hat", "add a blue hat", "Remove the hat"]
    # unigrams: add a red hat add a blue hat remove the hat -> 11 total,
    # distinct {add, a, red, hat, blue, remove, the} = 7
    assert d.distinct_n(corpus, 1) == pytest.approx(7 / 11)
    # bigrams: (add a)(a red)(red hat)(add a)(a blue)(blue hat)(remove the)(the hat)
    # -> 8 total, 7 distinct ("add a" twice)
    assert d.distinct_n(corpus, 2) == pytest.approx(7 / 8)
    assert d.distinct_n([], 2) == 0.0
    assert d.distinct_n(["one"], 2) == 0.0  # no bigram at all


def test_unique_share_ignores_case_punctuation_and_spacing():
    texts = ["Make it red.", "make  it RED", "Make it blue", "Make it red!"]
    assert d.unique_share(texts) == pytest.approx(2 / 4)


def test_lcs_and_rouge_l_by_hand():
    a = ["the", "cat", "sat", "on", "the", "mat"]
    b = ["the", "cat", "lay", "on", "a", "mat"]
    # LCS: the cat on mat -> 4
    assert d.lcs_length(a, b) == 4
    p, r = 4 / 6, 4 / 6
    assert d.rouge_l(a, b) == pytest.approx(2 * p * r / (p + r))
    assert d.rouge_l(a, []) == 0.0


def test_rouge_l_duplicate_share_flags_both_members_of_a_close_pair():
    texts = ["make the dog look happy", "make the dog look very happy",
             "paint the fence blue", "remove the car"]
    # pair 0-1: LCS 5, P=5/6, R=5/5 -> F=0.909 > 0.7; every other pair is far below
    assert d.rouge_l_duplicate_share(texts) == pytest.approx(2 / 4)


def test_bleu_matches_a_hand_computation():
    hyp = ["a", "b", "c", "d"]
    ref = ["a", "b", "c", "e"]
    # p1 = 3/4; p2: hyp bigrams ab bc cd, 2 match -> (2+1)/(3+1); p3: abc bcd, 1 match
    # -> (1+1)/(2+1); p4: abcd, 0 match -> (0+1)/(1+1). Same length: no penalty.
    expected = math.exp((math.log(3 / 4) + math.log(3 / 4) + math.log(2 / 3) + math.log(1 / 2))
                        / 4)
    assert d.bleu(hyp, [ref]) == pytest.approx(expected)
    assert d.bleu(hyp, [hyp]) == pytest.approx(1.0)
    assert d.bleu(["x", "y"], [ref]) == 0.0


def test_bleu_brevity_penalty_uses_the_closest_reference_length():
    hyp = ["a", "b"]
    refs = [["a", "b", "c"], ["a", "b", "c", "d", "e", "f"]]
    # precisions all 1 (p3, p4 have no n-grams: (0+1)/(0+1)); r = 3 -> BP = exp(1 - 3/2)
    assert d.bleu(hyp, refs) == pytest.approx(math.exp(1 - 3 / 2))


def test_fast_self_bleu_equals_the_plain_definition():
    texts = ["make the dog look happy", "make the cat look sad", "give the dog a hat",
             "turn the sky orange", "make the dog look happy", "paint the wall green please"]
    toks = [d.tokens(t) for t in texts]
    plain = sum(d.bleu(t, toks[:i] + toks[i + 1:]) for i, t in enumerate(toks)) / len(toks)
    assert d.self_bleu(texts) == pytest.approx(plain)
    assert d.self_bleu(texts[:1]) == 0.0


def test_self_bleu_is_one_for_copies_and_lower_for_varied_text():
    assert d.self_bleu(["add a red hat to the man"] * 3) == pytest.approx(1.0)
    assert d.self_bleu(["add a red hat", "remove every tree", "turn night into day"]) < 0.3


def test_near_duplicate_share_counts_later_copies_only():
    texts = ["Add a hat to the man.", "add a hat to the man", "Remove the red car.",
             "Add a hat to the man!"]
    assert d.near_duplicate_share(texts, 0.95) == pytest.approx(2 / 4)


def test_sample_is_seeded_and_without_replacement():
    texts = [f"text {i}" for i in range(50)]
    a, b = d.sample(texts, 10, seed=3), d.sample(texts, 10, seed=3)
    assert a == b and len(set(a)) == 10
    assert d.sample(texts, 10, seed=4) != a
    assert Counter(d.sample(texts[:5], 10, seed=1)) == Counter(texts[:5])


def test_sample_in_order_keeps_file_order():
    texts = [f"text {i}" for i in range(100)]
    drawn = d.sample_in_order(texts, 20, seed=2)
    assert len(set(drawn)) == 20 and drawn == sorted(drawn, key=texts.index)
    assert d.sample_in_order(texts[:5], 20, seed=2) == texts[:5]
