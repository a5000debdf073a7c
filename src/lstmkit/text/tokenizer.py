"""A small unicode-aware word tokenizer: NFKC normalization, case folding, words and punctuation marks."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from lstmkit.utils.validation import check_choice

# a word is a run of letters/digits/underscore (any script), optionally joined by apostrophes or hyphens
# ("don't", "re-imagining"); every other non-space character is a token of its own
_TOKEN = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")
_WORD = re.compile(r"\w")
PUNCTUATION = ("keep", "drop")


@dataclass(frozen=True)
class Tokenizer:
    """Split text into tokens.

    Steps: Unicode NFKC normalization (full-width letters, ligatures), optional case folding (a stronger,
    language-independent lower-casing: ``"Straße"`` -> ``"strasse"``), then words and punctuation marks.

    Args:
        lowercase: case-fold the text. Default True.
        punctuation: ``"keep"`` punctuation marks as tokens (``"!"`` carries sentiment) or ``"drop"`` them.

    Example:
        >>> Tokenizer()("Don't  STOP—it's GREAT!!")
        ["don't", 'stop', '—', "it's", 'great', '!', '!']
        >>> Tokenizer(punctuation="drop")("Ça coûte 5€, naïve café.")
        ['ça', 'coûte', '5', 'naïve', 'café']
    """

    lowercase: bool = True
    punctuation: str = "keep"

    def __post_init__(self) -> None:
        check_choice("punctuation", self.punctuation, PUNCTUATION)

    def __call__(self, text: str) -> list[str]:
        """Tokens of one text."""
        if not isinstance(text, str):
            raise TypeError(f"Tokenizer expected a str, got {type(text).__name__} {text!r}")
        text = unicodedata.normalize("NFKC", text)
        if self.lowercase:
            text = text.casefold()
        tokens = _TOKEN.findall(text)
        if self.punctuation == "drop":
            tokens = [t for t in tokens if _WORD.match(t)]
        return tokens

    def to_config(self) -> dict[str, Any]:
        """JSON-serializable settings; :meth:`from_config` rebuilds the tokenizer."""
        return asdict(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Tokenizer:
        """Rebuild from :meth:`to_config`."""
        return cls(**config)
