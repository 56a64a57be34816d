from vigil.transcription.quality import normalise_words, word_error_rate


def test_identical_text_has_zero_error_whatever_the_punctuation() -> None:
    assert word_error_rate("Hello, how are you?", "hello how are you") == 0.0


def test_one_substitution_in_four_words_is_a_quarter() -> None:
    assert word_error_rate("i want to die", "i want to try") == 0.25


def test_insertions_and_deletions_count() -> None:
    assert word_error_rate("a b c", "a c") == 1 / 3
    assert word_error_rate("a b", "a b c d") == 1.0


def test_apostrophes_stay_inside_words() -> None:
    assert normalise_words("I don’t know") == ["i", "don't", "know"]
