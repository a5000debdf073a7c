from __future__ import annotations

import pytest

from lstmkit.text.vocabulary import OOV, PAD, Vocabulary, pad_batch

CORPUS = [["the", "film", "is", "good"], ["the", "plot", "is", "bad"], ["the", "end"]]


def test_frequency_order_min_freq_and_max_size() -> None:
    vocab = Vocabulary.build(CORPUS)
    assert vocab.tokens[:4] == [PAD, OOV, "the", "is"]  # by count, then alphabetically
    assert len(Vocabulary.build(CORPUS, min_freq=2)) == 4
    assert Vocabulary.build(CORPUS, max_size=1).tokens == [PAD, OOV, "the"]


def test_encode_decode_and_oov() -> None:
    vocab = Vocabulary.build(CORPUS, min_freq=2)
    ids = vocab.encode(["the", "movie", "is"])
    assert ids == [2, Vocabulary.oov_id, 3]
    assert vocab.decode(ids) == ["the", OOV, "is"]
    assert vocab.oov_rate([["the", "movie"]]) == 0.5


def test_config_round_trip() -> None:
    vocab = Vocabulary.build(CORPUS)
    assert Vocabulary.from_config(vocab.to_config()).tokens == vocab.tokens


def test_bad_vocabulary_arguments() -> None:
    with pytest.raises(ValueError, match="no token occurs at least min_freq=9"):
        Vocabulary.build(CORPUS, min_freq=9)
    with pytest.raises(ValueError, match="min_freq must be >= 1"):
        Vocabulary.build(CORPUS, min_freq=0)
    with pytest.raises(ValueError, match="must not contain the special tokens"):
        Vocabulary(["<pad>"])


def test_pad_batch() -> None:
    batch, lengths = pad_batch([[4, 5, 6], [7]], max_length=2)
    assert batch.tolist() == [[4, 5], [7, 0]]
    assert lengths.tolist() == [2, 1]
    with pytest.raises(ValueError, match="text 1 has no tokens"):
        pad_batch([[4], []])
    with pytest.raises(ValueError, match="no texts to encode"):
        pad_batch([])
