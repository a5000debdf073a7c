"""Small public data sets bundled with lstmkit (attribution in the files beside this module).

- ``load_dexuseu()``: US dollars per euro, daily, 1999-2021 (FRED ``DEXUSEU``; public domain).
- ``load_airline()``: Box & Jenkins international airline passengers, monthly, 1949-1960 (public domain).
- ``load_uci_sentiment()``: 3,000 Amazon, Yelp and IMDb sentences labelled positive/negative
  (Kotzias et al., KDD 2015; CC BY 4.0).
"""

from lstmkit.datasets.finance import dexuseu_path, load_airline, load_dexuseu
from lstmkit.datasets.text import UCI_SENTIMENT_CITATION, UCI_SENTIMENT_PATH, load_uci_sentiment

__all__ = [
    "UCI_SENTIMENT_CITATION",
    "UCI_SENTIMENT_PATH",
    "dexuseu_path",
    "load_airline",
    "load_dexuseu",
    "load_uci_sentiment",
]
