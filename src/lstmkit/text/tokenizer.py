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
# invisible characters: direction marks, bidi embeddings and isolates, soft hyphen and word joiner are
# removed; zero-width space and byte order mark separate words (Thai and Khmer use the first between words)
_INVISIBLE = re.compile("[\u00ad\u061c\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069]")
_SEPARATOR = re.compile("[\u200b\ufeff]")
# zero-width non-joiner and joiner: inside Persian and Indic words, and between the emoji of a sequence
_JOINERS = frozenset("\u200c\u200d")
# a character from U+0300 on (where the combining marks start; the joiners, skin-tone modifiers and tag
# characters lie above too): only a text holding one can have tokens that _split joins
_BEYOND_LATIN = re.compile("[^\u0000-\u02ff]")
PUNCTUATION = ("keep", "drop")
RULES = 2  # the splitting rules' version, saved with a model (Tokenizer.rules)


@dataclass(frozen=True)
class Tokenizer:
    """Split text into tokens.

    Steps: Unicode NFKC normalization (full-width letters, ligatures), optional case folding (a stronger,
    language-independent lower-casing: ``"Straße"`` -> ``"strasse"``), then words and punctuation marks.
    Combining marks stay with the letter they modify (Devanagari vowel signs, Arabic harakat, Hebrew
    niqqud), zero-width (non-)joiners keep a word or an emoji sequence whole, and invisible direction marks
    and soft hyphens are removed.

    Args:
        lowercase: case-fold the text. Default True.
        punctuation: ``"keep"`` punctuation marks as tokens (``"!"`` carries sentiment) or ``"drop"`` them.
        rules: the splitting rules: 2 (the default) as above; 1, lstmkit's rules before combining marks and
            joiners were kept in their tokens, which models saved then are loaded with (their vocabulary
            was built with them).

    Example:
        >>> Tokenizer()("Don't  STOP—it's GREAT!!")
        ["don't", 'stop', '—', "it's", 'great', '!', '!']
        >>> Tokenizer(punctuation="drop")("Ça coûte 5€, naïve café.")
        ['ça', 'coûte', '5', 'naïve', 'café']
    """

    lowercase: bool = True
    punctuation: str = "keep"
    rules: int = RULES

    def __post_init__(self) -> None:
        check_choice("punctuation", self.punctuation, PUNCTUATION)
        if self.rules not in (1, RULES) or isinstance(self.rules, bool):
            raise ValueError(f"Tokenizer rules must be 1 or {RULES}, got {self.rules!r}")

    def __call__(self, text: str) -> list[str]:
        """Tokens of one text."""
        if not isinstance(text, str):
            raise TypeError(f"Tokenizer expected a str, got {type(text).__name__} {text!r}")
        text = unicodedata.normalize("NFKC", text)
        if self.lowercase:
            text = text.casefold()
        if self.rules == 1:
            tokens = _TOKEN.findall(text)
        else:
            tokens = _split(_SEPARATOR.sub(" ", _INVISIBLE.sub("", text)))
        if self.punctuation == "drop":
            tokens = [t for t in tokens if _WORD.match(t)]
        return tokens

    def to_config(self) -> dict[str, Any]:
        """JSON-serializable settings; :meth:`from_config` rebuilds the tokenizer."""
        return asdict(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Tokenizer:
        """Rebuild from :meth:`to_config`; settings saved without ``rules`` are rules 1."""
        return cls(**{"rules": 1, **config})


def _split(text: str) -> list[str]:
    """Words and punctuation marks, with combining marks and joined characters kept in their token.

    Python's ``\\w`` leaves out combining marks (categories Mn, Mc, Me), which NFKC composes for Latin
    letters but not for Devanagari vowel signs, Arabic harakat or Hebrew niqqud; without this step
    ``"हिन्दी"`` would be six one-character tokens.
    """
    if not _BEYOND_LATIN.search(text):  # no mark, joiner or modifier: nothing to join (ASCII, Latin-1)
        return _TOKEN.findall(text)
    tokens: list[str] = []
    end = -1
    for match in _TOKEN.finditer(text):
        token = match.group()
        if tokens and match.start() == end and _continues(tokens[-1], token):
            tokens[-1] += token
        else:
            tokens.append(token)
        end = match.end()
    return tokens


def _continues(before: str, token: str) -> bool:
    """Whether ``token``, right after ``before`` in the text, belongs to the same token."""
    if _attaches(token[0]) or before[-1] in _JOINERS or token[0] in _JOINERS:
        return True
    # a word whose last letter carries a mark goes on with the letters after it ("हिन्दी", "مَرْحَبًا")
    return _is_mark(before[-1]) and bool(_WORD.match(before)) and bool(_WORD.match(token))


def _is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")


def _attaches(char: str) -> bool:
    """A combining mark, an emoji skin-tone modifier, or a tag character of an emoji flag sequence."""
    return _is_mark(char) or "\U0001f3fb" <= char <= "\U0001f3ff" or "\U000e0020" <= char <= "\U000e007f"
