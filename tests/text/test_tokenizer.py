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


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        pytest.param("हिन्दी भाषा", ["हिन्दी", "भाषा"], id="devanagari-vowel-signs"),
        pytest.param("مَرْحَبًا بِكُمْ", ["مَرْحَبًا", "بِكُمْ"], id="arabic-harakat"),
        pytest.param("שָׁלוֹם", ["שָׁלוֹם"], id="hebrew-niqqud"),
        pytest.param("می\u200cخواهم", ["می\u200cخواهم"], id="persian-zwnj"),
        pytest.param("\u200fhello\u200e wo\u00adrld", ["hello", "world"], id="direction-marks-soft-hyphen"),
        pytest.param("ภาษา\u200bไทย", ["ภาษา", "ไทย"], id="zero-width-space"),
        pytest.param(
            "👍🏽 ok 👨\u200d👩\u200d👧", ["👍🏽", "ok", "👨\u200d👩\u200d👧"], id="emoji-sequences"
        ),
    ],
)
def test_combining_marks_and_joiners_stay_in_their_token(text: str, tokens: list[str]) -> None:
    assert Tokenizer()(text) == tokens
    words = [t for t in tokens if t[0].isalnum()]
    assert Tokenizer(punctuation="drop")(text) == words


def test_text_without_marks_or_joiners_splits_as_the_general_path_does() -> None:
    # below U+0300 (ASCII, Latin-1, Latin Extended) _split takes a shortcut; a check mark takes the long way
    text = "Ça m'a coûté 42£, don't re-imagine Øresund -- naïve façade ß!"
    assert max(map(ord, text)) < 0x300
    assert Tokenizer()(text + " \u2713") == [*Tokenizer()(text), "\u2713"]
    assert Tokenizer()(text) == Tokenizer(rules=1)(text)


def test_empty_and_whitespace() -> None:
    assert Tokenizer()("   \n\t") == []
    assert Tokenizer()("\u200e\u200f") == []  # direction marks only
    assert Tokenizer(punctuation="drop")("?!") == []


def test_bad_input() -> None:
    with pytest.raises(TypeError, match="Tokenizer expected a str, got int"):
        Tokenizer()(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown punctuation 'strip'"):
        Tokenizer(punctuation="strip")


def test_config_round_trip() -> None:
    tokenizer = Tokenizer(lowercase=False, punctuation="drop")
    assert Tokenizer.from_config(tokenizer.to_config()) == tokenizer


def test_settings_saved_before_the_rules_had_a_version_keep_the_first_rules() -> None:
    # a model saved then built its vocabulary with rules 1: it must keep reading texts as it did
    old = Tokenizer.from_config({"lowercase": True, "punctuation": "keep"})
    assert old.rules == 1 and old("हिन्दी") == ["ह", "ि", "न", "्", "द", "ी"]
    new = Tokenizer()
    assert new.rules == 2 and new("हिन्दी") == ["हिन्दी"]
    assert Tokenizer.from_config(new.to_config()) == new
    with pytest.raises(ValueError, match="Tokenizer rules must be 1 or 2, got 3"):
        Tokenizer(rules=3)
