"""``TextClassifier``: texts and labels in, a trained model with its tokenizer and vocabulary out."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstmkit.classify.classifier import ClassificationReport, score_predictions
from lstmkit.classify.labels import Label, LabelEncoder, check_label_types
from lstmkit.classify.training import (
    EpochCallback,
    FitConfig,
    fit_classifier,
    predict_logits,
    softmax,
    with_batch_seed,
)
from lstmkit.text.models import TextLSTMClassifier
from lstmkit.text.tokenizer import Tokenizer
from lstmkit.text.vectors import load_vectors
from lstmkit.text.vocabulary import Vocabulary, pad_batch
from lstmkit.utils.seed import set_seed
from lstmkit.utils.serialization import load_bundle, save_bundle
from lstmkit.utils.validation import check_seed

KIND = "text_classifier"


def _check_texts(texts: Sequence[Any], name: str) -> list[str]:
    if isinstance(texts, str):
        raise TypeError(f"{name} must be a sequence of strings, got a single str; wrap it in a list")
    items = list(texts)
    if not items:
        raise ValueError(f"{name} is empty; expected at least one text")
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"{name}[{index}] must be a str, got {type(text).__name__} {text!r}")
    return items


def _check_pairs(
    texts: Sequence[Any], labels: Sequence[Any], data: str | None = None
) -> tuple[list[str], list[Label]]:
    """Texts and labels as lists with one label per text, checked before any empty text is dropped.

    ``data`` (e.g. ``"validation"``) names the data set in errors.
    """
    prefix = "" if data is None else f"{data} "
    texts_list = _check_texts(texts, f"{prefix}texts")
    labels_list = check_label_types(labels, f"{prefix}labels")
    if len(texts_list) != len(labels_list):
        where = "" if data is None else f"{data}: "
        raise ValueError(
            f"{where}got {len(texts_list)} texts but {len(labels_list)} labels; expected one label per text"
        )
    return texts_list, labels_list


class TextClassifier:
    """Classify sentences with a (bi)LSTM over learned (or pretrained) word embeddings.

    Args:
        tokenizer: how texts become tokens. Default :class:`Tokenizer` ``()``.
        min_freq: vocabulary keeps tokens seen at least this often in training. Default 2.
        max_vocab: keep at most this many tokens. Default 30000.
        max_length: cap on tokens per text (explicit truncation); ``None`` keeps all. Default None.
        vectors: optional path to GloVe/word2vec text-format vectors; sets ``embedding_dim`` from the file.
        model_options: keyword arguments for :class:`TextLSTMClassifier` (``embedding_dim``, ``hidden_size``,
            ``num_layers``, ``bidirectional``, ``dropout``, ``pooling``).
        fit_config: training settings; default ``FitConfig(epochs=15, batch_size=32, learning_rate=2e-3,
            patience=4, reduce_lr_patience=1)`` (tuned on the SST-2 dev set).
        seed: seed (an integer in ``[0, 2**63 - 1]``) for initialization (and word vectors missing from
            ``vectors``), and for the batch order unless ``fit_config.seed`` is set (an explicit
            ``FitConfig(seed=...)`` fixes the batch order whatever this seed is).

    Attributes:
        text_column: the CSV column the training texts were read from, recorded on the fitted model by
            whoever read the file (``lstmkit text train`` does) and saved with it, so that ``lstmkit
            predict`` reads new files from the same column; ``None`` (the default, and for models saved
            before it was kept) reads a ``text`` column.

    Example:
        >>> texts = ["good fun", "great film", "bad plot", "awful acting"] * 4
        >>> clf = TextClassifier(model_options={"embedding_dim": 8, "hidden_size": 8},
        ...                      fit_config=FitConfig(epochs=2, batch_size=4))
        >>> clf.fit(texts, ["pos", "pos", "neg", "neg"] * 4).predict(["good film"])[0] in ("pos", "neg")
        True
    """

    def __init__(
        self,
        tokenizer: Tokenizer | None = None,
        *,
        min_freq: int = 2,
        max_vocab: int | None = 30000,
        max_length: int | None = None,
        vectors: str | Path | None = None,
        model_options: dict[str, Any] | None = None,
        fit_config: FitConfig | None = None,
        seed: int = 0,
    ) -> None:
        self.tokenizer = tokenizer or Tokenizer()
        self.min_freq = min_freq
        self.max_vocab = max_vocab
        self.max_length = max_length
        self.vectors = None if vectors is None else Path(vectors)
        self.model_options = dict(model_options or {})
        self.fit_config = fit_config or FitConfig(
            epochs=15, batch_size=32, learning_rate=2e-3, patience=4, reduce_lr_patience=1
        )
        self.seed = check_seed("seed", seed)
        self.text_column: str | None = None
        self.vocabulary: Vocabulary | None = None
        self.encoder: LabelEncoder | None = None
        self.module: TextLSTMClassifier | None = None
        self.history: list[dict[str, float]] = []
        self.vectors_found = 0

    def _encode(self, texts: list[str], name: str) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.vocabulary is not None  # set by fit or load
        tokenized = [self.tokenizer(t) for t in texts]
        for index, tokens in enumerate(tokenized):
            if not tokens:
                raise ValueError(
                    f"{name}[{index}] ({texts[index][:40]!r}) is empty after tokenization; expected at least "
                    f"one word or punctuation mark"
                )
        batch, lengths = pad_batch([self.vocabulary.encode(t) for t in tokenized], self.max_length)
        return torch.from_numpy(batch), torch.from_numpy(lengths)

    def _drop_empty(self, texts: list[str], labels: list[Any], name: str) -> tuple[list[str], list[Any]]:
        """Drop training texts without tokens, with a warning that names them."""
        empty = [i for i, t in enumerate(texts) if not self.tokenizer(t)]
        if not empty:
            return texts, labels
        warnings.warn(
            f"{name}: {len(empty)} text(s) are empty after tokenization and were skipped (rows {empty[:5]}"
            f"{' ...' if len(empty) > 5 else ''})",
            UserWarning,
            stacklevel=3,
        )
        keep = sorted(set(range(len(texts))) - set(empty))
        if not keep:
            raise ValueError(f"{name}: every text is empty after tokenization; nothing to train on")
        return [texts[i] for i in keep], [labels[i] for i in keep]

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[Any],
        *,
        validation: tuple[Sequence[str], Sequence[Any]] | None = None,
        callback: EpochCallback | None = None,
    ) -> TextClassifier:
        """Build the vocabulary from ``texts`` and train; keep the weights of the best validation epoch.

        Raises:
            ValueError: no texts, counts that differ (training or validation), a single class, a missing
                (``None``/NaN) label, mixed label types, all texts empty, training that diverged.
        """
        texts_list, labels_list = _check_pairs(texts, labels)
        texts_list, labels_list = self._drop_empty(texts_list, labels_list, "texts")
        self.encoder = LabelEncoder.fit(labels_list)
        if len(self.encoder) < 2:
            raise ValueError(f"training data has a single class {self.encoder.classes}; expected two or more")
        self.vocabulary = Vocabulary.build(
            (self.tokenizer(t) for t in texts_list), min_freq=self.min_freq, max_size=self.max_vocab
        )
        x, lengths = self._encode(texts_list, "texts")
        y = torch.from_numpy(self.encoder.encode(labels_list))
        held_out = None
        if validation is not None:
            v_texts, v_labels = _check_pairs(validation[0], validation[1], "validation")
            v_texts, v_labels = self._drop_empty(v_texts, v_labels, "validation texts")
            unseen = self.encoder.unseen(v_labels)
            if unseen:
                raise ValueError(f"validation labels include class(es) {unseen} never seen in training")
            vx, vl = self._encode(v_texts, "validation texts")
            held_out = (vx, vl, torch.from_numpy(self.encoder.encode(v_labels)))
        set_seed(self.seed)
        options = dict(self.model_options)
        matrix = None
        if self.vectors is not None:
            matrix, self.vectors_found = load_vectors(self.vectors, self.vocabulary, seed=self.seed)
            options["embedding_dim"] = matrix.shape[1]
        self.model_options = options
        self.module = TextLSTMClassifier(len(self.vocabulary), len(self.encoder), **options)
        if matrix is not None:
            with torch.no_grad():
                self.module.embedding.weight.copy_(torch.from_numpy(matrix))
        config = with_batch_seed(self.fit_config, self.seed)
        self.history = fit_classifier(
            self.module, x, lengths, y, config, validation=held_out, callback=callback
        )
        return self

    def _require_fitted(self) -> tuple[TextLSTMClassifier, LabelEncoder]:
        if self.module is None or self.encoder is None or self.vocabulary is None:
            raise ValueError("this TextClassifier is not fitted yet; call fit(...) or load a saved model")
        return self.module, self.encoder

    @property
    def classes(self) -> list[Label]:
        """Training classes in the order of the probability columns."""
        return self._require_fitted()[1].classes

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities ``(N, K)``.

        Raises:
            ValueError: a text is empty after tokenization (named by index).
        """
        module, _ = self._require_fitted()
        x, lengths = self._encode(_check_texts(texts, "texts"), "texts")
        return softmax(predict_logits(module, x, lengths))

    def predict(self, texts: Sequence[str]) -> list[Label]:
        """The most probable label of each text."""
        _, encoder = self._require_fitted()
        return encoder.decode(self.predict_proba(texts).argmax(axis=1))

    def evaluate(self, texts: Sequence[str], labels: Sequence[Any]) -> ClassificationReport:
        """Accuracy, macro F1 and confusion matrix on labelled texts (empty texts skipped with a warning).

        Raises:
            ValueError: counts that differ, a missing (``None``/NaN) label, every text empty.
        """
        _, encoder = self._require_fitted()
        texts_list, labels_list = self._drop_empty(*_check_pairs(texts, labels), "texts")
        return score_predictions(labels_list, self.predict(texts_list), encoder)

    def save(self, path: str | Path) -> None:
        """Write weights, vocabulary, tokenizer settings and label mapping to one lstmkit bundle."""
        module, encoder = self._require_fitted()
        assert self.vocabulary is not None
        config = {
            "kind": KIND,
            "classes": encoder.classes,
            "tokenizer": self.tokenizer.to_config(),
            "vocabulary": self.vocabulary.to_config(),
            "min_freq": self.min_freq,
            "max_vocab": self.max_vocab,
            "max_length": self.max_length,
            "model_options": self.model_options,
            "fit_config": asdict(self.fit_config),
            "seed": self.seed,
            "text_column": self.text_column,
        }
        save_bundle(path, module.state_dict(), config)

    @classmethod
    def load(cls, path: str | Path) -> TextClassifier:
        """Load a model saved by :meth:`save` (one saved before ``text_column`` was kept gets ``None``).

        Raises:
            ValueError: the file holds another kind of model or is damaged.
        """
        tensors, config = load_bundle(path)
        if config.get("kind") != KIND:
            raise ValueError(f"'{path}' holds a model of kind {config.get('kind')!r}, expected {KIND!r}")
        try:
            clf = cls(
                Tokenizer.from_config(config["tokenizer"]),
                min_freq=config["min_freq"],
                max_vocab=config["max_vocab"],
                max_length=config["max_length"],
                model_options=config["model_options"],
                fit_config=FitConfig(**config["fit_config"]),
                seed=config["seed"],
            )
            clf.text_column = config.get("text_column")
            clf.vocabulary = Vocabulary.from_config(config["vocabulary"])
            clf.encoder = LabelEncoder(config["classes"])
            clf.module = TextLSTMClassifier(len(clf.vocabulary), len(clf.encoder), **clf.model_options)
            clf.module.load_state_dict(tensors)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise ValueError(f"'{path}' is a damaged text_classifier model: {err}") from err
        clf.module.eval()
        return clf
