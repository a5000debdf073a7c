"""Text classification: tokenizer, vocabulary, pretrained vectors, and a BiLSTM sentence classifier."""

from lstmkit.text.classifier import TextClassifier
from lstmkit.text.models import TextLSTMClassifier
from lstmkit.text.tokenizer import Tokenizer
from lstmkit.text.vectors import load_vectors
from lstmkit.text.vocabulary import Vocabulary, pad_batch

__all__ = ["TextClassifier", "TextLSTMClassifier", "Tokenizer", "Vocabulary", "load_vectors", "pad_batch"]
