from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from lstmkit.datasets.text import UCI_SENTIMENT_PATH, load_uci_sentiment


def test_bundled_copy_is_the_shared_file(shared_data: Path) -> None:
    shared = shared_data / "text" / "uci_sentiment" / "sentiment_labelled_sentences.csv"
    digest = hashlib.sha256(UCI_SENTIMENT_PATH.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(shared.read_bytes()).hexdigest()
    assert UCI_SENTIMENT_PATH.with_name("uci_sentiment_readme.txt").is_file()  # attribution travels with it


def test_sources_are_balanced() -> None:
    for source in ("amazon", "yelp", "imdb"):
        frame = load_uci_sentiment(source)
        assert len(frame) == 1000
        assert frame["label"].sum() == 500
    with pytest.raises(ValueError, match="unknown source 'twitter'"):
        load_uci_sentiment("twitter")
