"""Each fluency sign of instructgen.plugins.sense, on texts that show it and texts that do not."""

import pytest

from instructgen.plugins import sense

needs_words = pytest.mark.skipif(
    not sense.dictionary_available(),
    reason="the English word list comes with pyspellchecker (pip install 'instructgen[sense]')")


@pytest.mark.parametrize("text", ["A crazy guy. A crazy guy. A crazy guy.",
                                  "a cat on a mat and a cat on a mat"])
def test_repeated_ngram_found(text):
    assert sense.repeated_ngram(text) is not None


@pytest.mark.parametrize("text", ["A man riding a horse on a beach.",
                                  # only function words repeat: English, not a loop
                                  "A cup in front of a bowl in front of a plate."])
def test_repeated_ngram_not_found(text):
    assert sense.repeated_ngram(text) is None


@pytest.mark.parametrize("text", ["A wooden wooden hipflask.",
                                  "a woodbine, a mace, a woodbine, a mace",
                                  "Two dogs dogs on the grass."])
def test_repeated_phrase_found(text):
    assert sense.repeated_phrase(text) is not None


@pytest.mark.parametrize("text", ["A dog next to a dog house.", "A bus at a bus stop.",
                                  "It is what it is."])
def test_repeated_phrase_not_found(text):
    assert sense.repeated_phrase(text) is None


def test_non_ascii_letter_found_and_named():
    problem = sense.non_ascii("A \u0443row-to boat.")  # Cyrillic у
    assert problem is not None and "U+0443" in problem


def test_non_ascii_allows_punctuation_and_copied_letters():
    assert sense.non_ascii("A \u201cSALE\u201d sign \u2014 red.") is None
    assert sense.non_ascii("A table at the café.", allowed="A café") is None
    assert sense.non_ascii("A table at the café.") is not None


def test_glued_camel_case():
    assert "camelCase" in sense.glued_word("A pizzaServed on a plate.")
    assert sense.glued_word("A sign reading McDonald on a wall.") is None  # a name
    assert sense.glued_word("A photo taken with an iPhone.", known=["iPhone"]) is None


@needs_words
def test_glued_dictionary_split():
    problem = sense.glued_word("A horsesong in the field.")
    assert problem is not None and "'horse'" in problem and "'song'" in problem
    assert sense.glued_word("A skateboarder on a sidewalk.") is None
    # a word of the input caption is accepted as written
    assert sense.glued_word("A hipflask on a shelf.", known=["a hipflask"]) is None
    assert sense.glued_word("A hipflask on a shelf.") is not None


@needs_words
def test_non_word():
    assert sense.non_word("A fox jumps over the rrow.") is not None
    assert sense.non_word("Two frisbees and the colours of autumn, running dogs.") is None
    assert sense.non_word("A street in Paris.") is None  # capitalised: a name
    assert sense.non_word("A zorbleflat.", known=["zorbleflat"]) is None


def test_dangling_word():
    assert sense.dangling_word("Cut the cake into to a") == "ends on 'a'"
    assert sense.dangling_word("A man standing next to the.") is not None
    assert sense.dangling_word("Turn the lights on.") is None
    assert sense.dangling_word("A dog lying down.") is None


def test_several_sentences():
    assert sense.several_sentences("A dog. A cat.") is not None
    assert sense.several_sentences("A dog runs; a cat sleeps") is not None
    assert sense.several_sentences("A dog\nA cat") is not None
    assert sense.several_sentences("Mr. Smith walks in the U.S. capital.") is None
    assert sense.several_sentences("A dog runs on the beach.") is None


def test_output_too_long():
    assert sense.output_too_long("A cat on a mat.", "A cat on a mat with a hat and a dog "
                                 "and a bird and a tree in the sun.") is not None
    assert sense.output_too_long("A cat on a mat.", "A cat with a red hat on a mat.") is None


def test_self_modifier():
    assert sense.self_modifier("A hipflask hipflask on a table.", "hipflask") is not None
    assert sense.self_modifier("A wooden wood block.", "wood") is not None
    assert sense.self_modifier("A pie-shaped pie on a plate.", "pie") is not None
    assert sense.self_modifier("A wooden hipflask on a table.", "hipflask") is None
    assert sense.self_modifier("A leather hipflask.", "hipflask") is None


def test_fluency_problem_names_the_first_sign_and_skips():
    assert sense.fluency_problem("A crazy guy. A crazy guy.")[0] == sense.REPEATED_NGRAM
    found = sense.fluency_problem("A crazy guy. A crazy guy.",
                                  skip=[sense.REPEATED_NGRAM, sense.REPEATED_PHRASE])
    assert found is not None and found[0] == sense.SEVERAL_SENTENCES
    assert sense.fluency_problem("A man riding a horse on a beach.") is None


def test_reason_names_are_stable():
    assert set(sense.REASONS) == {"repeated_ngram", "repeated_phrase", "non_ascii",
                                  "glued_word", "non_word", "dangling_word",
                                  "several_sentences", "output_too_long", "self_modifier"}
