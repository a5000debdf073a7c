"""``TimeSeriesClassifier``: from series and labels of any type to a trained, scored, saved model.

The classifier owns everything a saved model needs to label new data the same way: the label mapping,
the normalization (and its statistics), the channel count, the CSV columns the training data came from,
and the architecture.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lstmkit.classify.dtw import as_channels
from lstmkit.classify.labels import Label, LabelEncoder, align_labels, check_label_types
from lstmkit.classify.metrics import accuracy, confusion_matrix, macro_f1
from lstmkit.classify.models import LSTMFCN, LSTMClassifier
from lstmkit.classify.preprocess import fill_missing, normalize_series, pad_series
from lstmkit.classify.training import (
    EpochCallback,
    FitConfig,
    fit_classifier,
    predict_logits,
    softmax,
    with_batch_seed,
)
from lstmkit.classify.ts_format import SeriesDataset
from lstmkit.utils.seed import set_seed
from lstmkit.utils.serialization import load_bundle, save_bundle
from lstmkit.utils.validation import check_choice, check_seed

logger = logging.getLogger(__name__)

KIND = "tsc_classifier"
MODELS = ("lstm", "lstm-fcn")
NORMALIZATIONS = ("auto", "zscore", "channel", "none")
SeriesInput = SeriesDataset | list[np.ndarray] | np.ndarray


@dataclass(frozen=True)
class ClassificationReport:
    """Scores of a classifier on labelled data.

    Attributes:
        accuracy: fraction correct.
        macro_f1: unweighted mean per-class F1.
        confusion: ``(K, K)`` counts, rows true class, columns predicted class, in ``labels`` order.
        labels: row/column labels of ``confusion`` (training classes, then unseen test classes).
        predictions: the predicted label of every example.
        unseen: test labels never seen in training (each of their examples counts as an error).
    """

    accuracy: float
    macro_f1: float
    confusion: np.ndarray
    labels: list[Label]
    predictions: list[Label]
    unseen: list[Label]


def as_series_list(data: SeriesInput, name: str = "data") -> list[np.ndarray]:
    """Turn a dataset, a list of ``(T_i,)``/``(T_i, C)`` arrays or an ``(N, T[, C])`` array into arrays.

    Raises:
        TypeError: not one of these types.
        ValueError: empty, wrong number of dimensions, empty series, or channel counts that differ.
    """
    if isinstance(data, SeriesDataset):
        items: list[Any] = list(data.series)
    elif isinstance(data, np.ndarray):
        if data.ndim not in (2, 3):
            raise ValueError(f"{name} as an array must have shape (N, T) or (N, T, C), got {data.shape}")
        items = list(data)
    elif isinstance(data, list):
        items = data
    else:
        raise TypeError(
            f"{name} must be a SeriesDataset, a list of arrays or an array, got {type(data).__name__}"
        )
    if not items:
        raise ValueError(f"{name} is empty; expected at least one series")
    out = []
    for index, array in enumerate(as_channels(items, name)):
        if np.isinf(array).any():
            raise ValueError(
                f"{name}[{index}] contains infinite values; expected finite numbers or NaN (missing)"
            )
        out.append(array)
    channels = sorted({a.shape[1] for a in out})
    if len(channels) > 1:
        raise ValueError(f"{name} mixes series with {channels} channels; every series needs the same number")
    return out


class TimeSeriesClassifier:
    """Classify (multivariate, variable-length) series with an LSTM or LSTM-FCN.

    Args:
        model: ``"lstm"`` (stacked bidirectional LSTM) or ``"lstm-fcn"`` (Karim et al. 2017).
        normalization: ``"zscore"`` (each series and channel on its own, as the UCR archive), ``"channel"``
            (per channel with training statistics, stored with the model), ``"none"``, or ``"auto"``:
            ``zscore`` for univariate data, ``channel`` for multivariate data. Default ``"auto"``.
        fit_config: training settings; default ``FitConfig(epochs=200, reduce_lr_patience=20)``.
        model_options: keyword arguments for the model class (e.g. ``hidden_size``).
        seed: seed (an integer in ``[0, 2**63 - 1]``) for initialization, and for the batch order unless
            ``fit_config.seed`` is set (an explicit ``FitConfig(seed=...)`` fixes the batch order whatever
            this seed is).

    Attributes set by :meth:`fit` (and saved): ``n_channels``; ``csv_columns`` and ``value_columns``, the
    columns of the training CSV (``label_column``, ``id_column``, ``time_column``; the time steps or
    channels), empty if the data did not come from :func:`read_series_csv`.
    :func:`~lstmkit.classify.csv_format.read_series_csv_like` reads new files with them.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = [np.sin(np.linspace(0, 3, 20)) + rng.normal(0, .1, 20) for _ in range(8)]
        >>> x += [np.cos(np.linspace(0, 3, 20)) + rng.normal(0, .1, 20) for _ in range(8)]
        >>> clf = TimeSeriesClassifier("lstm", fit_config=FitConfig(epochs=2),
        ...                            model_options={"hidden_size": 4})
        >>> clf.fit(x, ["sin"] * 8 + ["cos"] * 8).predict(x[:1])[0] in ("sin", "cos")
        True
    """

    def __init__(
        self,
        model: str = "lstm-fcn",
        *,
        normalization: str = "auto",
        fit_config: FitConfig | None = None,
        model_options: dict[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        self.model_name = check_choice("model", model, MODELS)
        self.normalization = check_choice("normalization", normalization, NORMALIZATIONS)
        self.fit_config = fit_config or FitConfig(epochs=200, reduce_lr_patience=20)
        self.model_options = dict(model_options or {})
        self.seed = check_seed("seed", seed)
        self.encoder: LabelEncoder | None = None
        self.module: nn.Module | None = None
        self.n_channels: int | None = None
        self.csv_columns: dict[str, str | None] = {}
        self.value_columns: tuple[str, ...] = ()
        self.channel_mean: np.ndarray | None = None
        self.channel_std: np.ndarray | None = None
        self.history: list[dict[str, float]] = []

    # ---------------------------------------------------------------- preprocessing
    def _resolved_normalization(self, channels: int) -> str:
        if self.normalization != "auto":
            return self.normalization
        return "zscore" if channels == 1 else "channel"

    def _prepare(self, data: SeriesInput, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        series = as_series_list(data, name)
        if self.n_channels is not None and series[0].shape[1] != self.n_channels:
            raise ValueError(
                f"{name} has {series[0].shape[1]} channel(s), but this model was trained on "
                f"{self.n_channels}; give it series with {self.n_channels} channel(s)"
            )
        series, filled = fill_missing(series)
        if filled:
            warnings.warn(
                f"{name}: {filled} missing value(s) filled by linear interpolation along time",
                UserWarning,
                stacklevel=3,
            )
        method = self._resolved_normalization(series[0].shape[1])
        if method == "channel":
            if self.channel_mean is None or self.channel_std is None:
                stacked = np.concatenate(series, axis=0)
                self.channel_mean = stacked.mean(axis=0)
                self.channel_std = np.where(stacked.std(axis=0) < 1e-8, 1.0, stacked.std(axis=0))
            series = [(s - self.channel_mean) / self.channel_std for s in series]
        else:
            series = normalize_series(series, method)
        batch, lengths = pad_series(series)
        return torch.from_numpy(batch), torch.from_numpy(lengths)

    def _build(self, channels: int, classes: int, series_length: int) -> nn.Module:
        options = dict(self.model_options)
        if self.model_name == "lstm":
            return LSTMClassifier(channels, classes, **options)
        if options.get("dimension_shuffle"):
            options.setdefault("series_length", series_length)
        return LSTMFCN(channels, classes, **options)

    # ---------------------------------------------------------------- training and inference
    def fit(
        self,
        data: SeriesInput,
        labels: Any = None,
        *,
        validation: tuple[SeriesInput, Any] | None = None,
        callback: EpochCallback | None = None,
    ) -> TimeSeriesClassifier:
        """Train on series and labels (taken from ``data`` when it is a labelled :class:`SeriesDataset`).

        Raises:
            ValueError: no labels, labels and series of different counts (in the training or validation
                data), a single class, a missing (``None``/NaN) label, mixed label types.
        """
        if labels is None and isinstance(data, SeriesDataset):
            labels = data.labels
        if labels is None:
            raise ValueError("fit needs labels: pass labels=... or a labelled SeriesDataset")
        labels = check_label_types(labels)
        series = as_series_list(data, "data")
        if len(labels) != len(series):
            raise ValueError(
                f"got {len(series)} series but {len(labels)} labels; expected one label per series"
            )
        self.encoder = LabelEncoder.fit(labels)
        if len(self.encoder) < 2:
            raise ValueError(
                f"training data has a single class {self.encoder.classes}; expected at least two"
            )
        self.n_channels, self.channel_mean, self.channel_std = None, None, None
        x, lengths = self._prepare(series, "data")
        self.n_channels = int(x.shape[2])
        self.csv_columns = dict(data.csv_columns) if isinstance(data, SeriesDataset) else {}
        self.value_columns = data.value_columns if isinstance(data, SeriesDataset) else ()
        y = torch.from_numpy(self.encoder.encode(labels))
        set_seed(self.seed)
        self.module = self._build(self.n_channels, len(self.encoder), int(x.shape[1]))
        held_out = None
        if validation is not None:
            v_series = as_series_list(validation[0], "validation data")
            v_labels = check_label_types(validation[1], "validation labels")
            if len(v_labels) != len(v_series):
                raise ValueError(
                    f"validation: got {len(v_series)} series but {len(v_labels)} labels; expected one label "
                    f"per series"
                )
            vx, vl = self._prepare(v_series, "validation data")
            held_out = (vx, vl, torch.from_numpy(self.encoder.encode(v_labels)))
        config = with_batch_seed(self.fit_config, self.seed)
        self.history = fit_classifier(
            self.module, x, lengths, y, config, validation=held_out, callback=callback
        )
        return self

    def _require_fitted(self) -> tuple[nn.Module, LabelEncoder]:
        if self.module is None or self.encoder is None:
            raise ValueError(
                "this TimeSeriesClassifier is not fitted yet; call fit(...) or load a saved model"
            )
        return self.module, self.encoder

    def predict_proba(self, data: SeriesInput) -> np.ndarray:
        """Class probabilities ``(N, K)``, columns in the order of :attr:`classes`."""
        module, _ = self._require_fitted()
        x, lengths = self._prepare(data, "data")
        return softmax(predict_logits(module, x, lengths))

    def predict(self, data: SeriesInput) -> list[Label]:
        """The most probable label of each series."""
        _, encoder = self._require_fitted()
        return encoder.decode(self.predict_proba(data).argmax(axis=1))

    @property
    def classes(self) -> list[Label]:
        """The training classes, in the order of the probability columns."""
        return self._require_fitted()[1].classes

    def evaluate(self, data: SeriesInput, labels: Any = None) -> ClassificationReport:
        """Score on labelled data; warns about (and counts as errors) classes never seen in training.

        Labels that are the model's classes typed another way (``1`` for a model whose classes are ``"1"``,
        as models trained on ``.ts`` files before their labels were typed have) are scored as those classes
        (see :func:`score_predictions`).
        """
        if labels is None and isinstance(data, SeriesDataset):
            labels = data.labels
        if labels is None:
            raise ValueError("evaluate needs labels: pass labels=... or a labelled SeriesDataset")
        _, encoder = self._require_fitted()
        truth = check_label_types(labels)
        predictions = self.predict(data)
        if len(truth) != len(predictions):
            raise ValueError(f"got {len(predictions)} series but {len(truth)} labels")
        return score_predictions(truth, predictions, encoder)

    # ---------------------------------------------------------------- persistence
    def config(self) -> dict[str, Any]:
        """Everything except the weights needed to rebuild this classifier."""
        _, encoder = self._require_fitted()
        return {
            "kind": KIND,
            "model": self.model_name,
            "model_options": self.model_options,
            "classes": encoder.classes,
            "n_channels": self.n_channels,
            "csv_columns": self.csv_columns,
            "value_columns": list(self.value_columns),
            "normalization": self.normalization,
            "channel_mean": None if self.channel_mean is None else self.channel_mean.tolist(),
            "channel_std": None if self.channel_std is None else self.channel_std.tolist(),
            "series_length": getattr(self.module, "series_length", None),
            "fit_config": asdict(self.fit_config),
            "seed": self.seed,
        }

    def save(self, path: str | Path) -> None:
        """Write weights and config to one lstmkit bundle file."""
        module, _ = self._require_fitted()
        save_bundle(path, module.state_dict(), self.config())

    @classmethod
    def load(cls, path: str | Path) -> TimeSeriesClassifier:
        """Load a classifier saved by :meth:`save`.

        Files saved before ``csv_columns`` and ``value_columns`` were stored load with them empty.

        Raises:
            ValueError: the file is not an lstmkit model of kind ``tsc_classifier``, or is corrupt.
        """
        tensors, config = load_bundle(path)
        if config.get("kind") != KIND:
            raise ValueError(f"'{path}' holds a model of kind {config.get('kind')!r}, expected {KIND!r}")
        try:
            clf = cls(
                config["model"],
                normalization=config["normalization"],
                fit_config=FitConfig(**config["fit_config"]),
                model_options=config["model_options"],
                seed=config["seed"],
            )
            clf.encoder = LabelEncoder(config["classes"])
            clf.n_channels = int(config["n_channels"])
            clf.csv_columns = dict(config.get("csv_columns") or {})
            clf.value_columns = tuple(str(c) for c in config.get("value_columns") or ())
            if config["channel_mean"] is not None:
                clf.channel_mean = np.array(config["channel_mean"])
                clf.channel_std = np.array(config["channel_std"])
            clf.module = clf._build(clf.n_channels, len(clf.encoder), config.get("series_length") or 1)
            clf.module.load_state_dict(tensors)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise ValueError(f"'{path}' is a damaged tsc_classifier model: {err}") from err
        clf.module.eval()
        return clf


def score_predictions(
    truth: list[Any], predictions: list[Label], encoder: LabelEncoder
) -> ClassificationReport:
    """Accuracy, macro F1 and confusion matrix; warns if the truth holds classes unseen in training.

    ``truth`` given as text for typed classes, or typed for text classes, is first spelled as the classes
    (:func:`~lstmkit.classify.labels.align_labels`): ``1`` is the class ``"1"``, ``"2"`` the class ``2``.
    """
    truth = align_labels(truth, encoder.classes)
    unseen = encoder.unseen(truth)
    if unseen:
        count = sum(1 for t in truth if t in set(unseen))
        warnings.warn(
            f"the test labels include class(es) {unseen} never seen in training ({count} example(s)); "
            f"the model cannot predict them, so they count as errors",
            UserWarning,
            stacklevel=3,
        )
    matrix, order = confusion_matrix(truth, predictions, labels=[*encoder.classes, *unseen])
    return ClassificationReport(
        accuracy=accuracy(truth, predictions),
        macro_f1=macro_f1(truth, predictions),
        confusion=matrix,
        labels=order,
        predictions=predictions,
        unseen=unseen,
    )
