"""``lstmkit classify TRAIN TEST``: train a series classifier; score it beside 1-NN DTW and the majority.

Also ``predict_classifier``, which ``lstmkit predict MODEL DATA`` calls for saved ``tsc_classifier`` models.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
from tqdm import tqdm

from lstmkit.cli.options import SEED, OutFolder

if TYPE_CHECKING:
    from lstmkit.classify.ts_format import SeriesDataset

# choices of lstmkit.classify.classifier, copied so that --help imports neither torch nor pandas (a test
# keeps them equal)
MODELS = ("lstm", "lstm-fcn")
NORMALIZATIONS = ("auto", "zscore", "channel", "none")

MODEL_FILE = "model.safetensors"


def read_series_file(
    path: Path, *, label_column: str | None, id_column: str | None, time_column: str | None
) -> SeriesDataset:
    """Read a ``.ts`` file, or a ``.csv`` in the wide or long layout."""
    from lstmkit.classify.csv_format import read_series_csv
    from lstmkit.classify.ts_format import read_ts

    suffix = path.suffix.lower()
    if suffix == ".ts":
        return read_ts(path)
    if suffix == ".csv":
        return read_series_csv(path, label_column=label_column, id_column=id_column, time_column=time_column)
    raise ValueError(f"'{path}' has extension {path.suffix!r}; expected a UCR/UEA .ts file or a .csv file")


@contextmanager
def warnings_as_lines() -> Iterator[None]:
    """Show library warnings as one ``lstmkit: warning:`` line each on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            yield
        finally:
            for item in caught:
                if issubclass(item.category, UserWarning):
                    click.echo(f"lstmkit: warning: {item.message}", err=True)


_csv_options = [
    click.option(
        "--label-column", default="label", show_default=True, help="CSV input: the class label column."
    ),
    click.option("--id-column", default=None, help="CSV input in long layout: the series id column."),
    click.option(
        "--time-column", default=None, help="CSV input in long layout: sort each series by this column."
    ),
]


def _with_csv_options(function: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(_csv_options):
        function = option(function)
    return function


@click.command()
@click.argument("train", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("test", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", "model_name", type=click.Choice(MODELS), default="lstm-fcn", show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True)
@click.option(
    "--hidden-size", type=click.IntRange(min=1), default=None, help="LSTM units (model default if unset)."
)
@click.option("--normalization", type=click.Choice(NORMALIZATIONS), default="auto", show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--no-dtw", is_flag=True, help="Skip the 1-NN DTW baseline (slow on long or many series).")
@click.option(
    "--out",
    type=OutFolder(),
    default=None,
    help="Write metrics and model here.",
)
@_with_csv_options
def classify(
    train: Path,
    test: Path,
    model_name: str,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    hidden_size: int | None,
    normalization: str,
    seed: int,
    no_dtw: bool,
    out: Path | None,
    label_column: str,
    id_column: str | None,
    time_column: str | None,
) -> None:
    """Train a classifier on TRAIN (.ts or .csv), score it on TEST beside 1-NN DTW and the majority class."""
    from lstmkit.classify.baselines import dtw_1nn, majority_accuracy
    from lstmkit.classify.classifier import TimeSeriesClassifier, as_series_list
    from lstmkit.classify.metrics import accuracy, format_confusion
    from lstmkit.classify.training import FitConfig
    from lstmkit.utils.serialization import atomic_write_text

    columns = {"label_column": label_column, "id_column": id_column, "time_column": time_column}
    train_set = read_series_file(train, **columns)
    test_set = read_series_file(test, **columns)
    for name, path, data in (("TRAIN", train, train_set), ("TEST", test, test_set)):
        as_series_list(data, f"{name} '{path}'")  # the classifier's checks, before training, naming the file
        if data.labels is None:
            raise ValueError(
                f"{name} file has no class labels; lstmkit classify needs labelled train and test data"
            )
    if train_set.n_channels != test_set.n_channels:
        raise ValueError(
            f"TRAIN has {train_set.n_channels} channel(s) but TEST has {test_set.n_channels}; they must match"
        )
    assert train_set.labels is not None and test_set.labels is not None  # checked above
    train_labels, test_labels = list(train_set.labels), list(test_set.labels)
    lengths = train_set.lengths
    length_text = str(lengths[0]) if len(set(lengths.tolist())) == 1 else f"{lengths.min()}-{lengths.max()}"
    click.echo(
        f"{train_set.name}: {len(train_set)} train / {len(test_set)} test series, {train_set.n_channels} "
        f"channel(s), length {length_text}, {len(set(train_labels))} classes"
    )
    options = {} if hidden_size is None else {"hidden_size": hidden_size}
    config = FitConfig(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        reduce_lr_patience=max(10, epochs // 10),
        seed=seed,
    )
    clf = TimeSeriesClassifier(
        model_name, normalization=normalization, fit_config=config, model_options=options, seed=seed
    )
    with warnings_as_lines():
        with tqdm(total=epochs, desc=f"training {model_name}", unit="epoch", leave=False) as bar:

            def _progress(epoch: int, logs: dict[str, float]) -> None:
                bar.set_postfix(loss=f"{logs['loss']:.4f}", acc=f"{logs['accuracy']:.3f}")
                bar.update(1)

            clf.fit(train_set, callback=_progress)
        report = clf.evaluate(test_set)
        majority = majority_accuracy(train_labels, test_labels)
        dtw = (
            None
            if no_dtw
            else accuracy(test_labels, dtw_1nn(train_set.series, train_labels, test_set.series))
        )

    click.echo(f"{model_name:<15} accuracy {report.accuracy:.4f}   macro F1 {report.macro_f1:.4f}")
    click.echo(f"{'1-NN DTW':<15} accuracy {'skipped' if dtw is None else f'{dtw:.4f}'}")
    click.echo(f"{'majority class':<15} accuracy {majority:.4f}")
    click.echo("confusion matrix (rows: true class, columns: predicted class):")
    click.echo(format_confusion(report.confusion, report.labels))
    if out is not None:
        metrics = {
            "dataset": train_set.name,
            "model": model_name,
            "epochs": epochs,
            "accuracy": report.accuracy,
            "macro_f1": report.macro_f1,
            "baselines": {"dtw_1nn_accuracy": dtw, "majority_accuracy": majority},
            "confusion_matrix": report.confusion.tolist(),
            "labels": report.labels,
            "unseen_test_classes": report.unseen,
            "n_train": len(train_set),
            "n_test": len(test_set),
        }
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        clf.save(out / MODEL_FILE)
        click.echo(f"wrote {out / 'metrics.json'} and {out / MODEL_FILE}")


def predict_classifier(model_path: Path, data_path: Path, out: Path | None) -> None:
    """Label the series in ``data_path`` (.ts or .csv) with a saved ``tsc_classifier``.

    A CSV is read as the training file was (:func:`~lstmkit.classify.csv_format.read_series_csv_like`):
    the same label (optional here), id and time columns, and the training file's time steps or channels;
    a model saved without them reads the wide layout with an optional ``label`` column. Prints (or writes
    to ``out`` as CSV) one row per series: its index, predicted label and the probability of each class. If
    the data carries labels, also prints the accuracy.

    Raises:
        ValueError: the CSV lacks the id or time column the model was trained with, has a column the
            training file did not have (a label column under another name), or another channel count.
    """
    from lstmkit.classify.classifier import TimeSeriesClassifier, as_series_list, score_predictions
    from lstmkit.classify.csv_format import read_series_csv_like
    from lstmkit.utils.serialization import atomic_write_text

    clf = TimeSeriesClassifier.load(model_path)
    assert clf.encoder is not None  # set by load
    if data_path.suffix.lower() == ".csv":
        data = read_series_csv_like(data_path, clf.csv_columns, clf.value_columns)
    else:
        data = read_series_file(data_path, label_column=None, id_column=None, time_column=None)
    with warnings_as_lines():
        probabilities = clf.predict_proba(as_series_list(data, f"DATA '{data_path}'"))
        predictions = clf.encoder.decode(probabilities.argmax(axis=1))
        truth = None if data.labels is None else list(data.labels)
        report = None if truth is None else score_predictions(truth, predictions, clf.encoder)
    header = ["index", "label", *[f"p_{c}" for c in clf.classes]]
    rows = [
        [str(i), str(label), *[f"{p:.6f}" for p in probs]]
        for i, (label, probs) in enumerate(zip(predictions, probabilities, strict=True))
    ]
    table = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    if out is None:
        click.echo(table, nl=False)
    else:
        atomic_write_text(out, table)
        click.echo(f"wrote {len(rows)} predictions to {out}")
    if report is not None:
        click.echo(f"accuracy {report.accuracy:.4f} on {len(predictions)} labelled series")
