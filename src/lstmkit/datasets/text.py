"""Bundled text data: the UCI sentiment-labelled sentences (Kotzias et al., KDD 2015; CC BY 4.0).

3,000 review sentences, 1,000 each from Amazon, Yelp and IMDb, balanced positive (1) / negative (0).
Attribution and the original readme: ``uci_sentiment_readme.txt`` beside the CSV.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

UCI_SENTIMENT_PATH = Path(__file__).with_name("uci_sentiment.csv")
UCI_SENTIMENT_CITATION = (
    "Kotzias, Denil, de Freitas and Smyth, 'From Group to Individual Labels using Deep Features', KDD 2015. "
    "UCI Machine Learning Repository, Sentiment Labelled Sentences, CC BY 4.0."
)


def load_uci_sentiment(source: str | None = None) -> pd.DataFrame:
    """The UCI sentiment-labelled sentences as a DataFrame with columns ``source``, ``text``, ``label``.

    Args:
        source: keep only ``"amazon"``, ``"yelp"`` or ``"imdb"``; ``None`` keeps all 3,000 rows.

    Example:
        >>> frame = load_uci_sentiment()
        >>> frame.shape, sorted(frame["label"].unique().tolist())
        ((3000, 3), [0, 1])
    """
    frame = pd.read_csv(UCI_SENTIMENT_PATH)
    if source is None:
        return frame
    sources = sorted(frame["source"].unique())
    if source not in sources:
        raise ValueError(f"unknown source {source!r}; expected one of {sources} or None")
    return frame[frame["source"] == source].reset_index(drop=True)
