from __future__ import annotations

import pytest

from lstmkit.text.tokenizer import Tokenizer


def test_words_punctuation_and_case() -> None:
    assert Tokenizer()("It's GREAT, isn't it?!") == ["it's", "great", ",", "isn't", "it", "?", "!"]
    assert Tokenizer(lowercase=False)("Good") == ["Good"]
    assert Tokenizer(punctuation="drop")("so... bad!!") == ["so", "bad"]


def test_unicode_scripts_and_normalization() -> None:
    tokenize = Tokenizer()
    assert tokenize("Ｆｕｌｌ width") == ["full", "width"]  # NFKC folds full-width letters
    assert tokenize("Straße") == ["strasse"]  # case folding, not just lower()
    assert tokenize("Très bien, 東京!") == ["très", "bien", ",", "東京", "!"]
    assert tokenize("re-imagining") == ["re-imagining"]


def test_empty_and_whitespace() -> None:
    assert Tokenizer()("   \n\t") == []
    assert Tokenizer(punctuation="drop")("?!") == []


def test_bad_input() -> None:
    with pytest.raises(TypeError, match="Tokenizer expected a str, got int"):
        Tokenizer()(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown punctuation 'strip'"):
        Tokenizer(punctuation="strip")


def test_config_round_trip() -> None:
    tokenizer = Tokenizer(lowercase=False, punctuation="drop")
    assert Tokenizer.from_config(tokenizer.to_config()) == tokenizer
