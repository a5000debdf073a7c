"""``lstmkit text train`` and ``lstmkit text predict``: sentence classification from CSV files."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from tqdm import tqdm

from lstmkit.cli.classify import warnings_as_lines
from lstmkit.cli.options import SEED, OutFolder

if TYPE_CHECKING:
    import pandas as pd

    from lstmkit.classify.classifier import ClassificationReport
    from lstmkit.text.classifier import TextClassifier
    from lstmkit.text.tokenizer import Tokenizer

# choices of lstmkit.text.models and .tokenizer, copied so that --help imports neither torch nor pandas (a
# test keeps them equal)
POOLINGS = ("max", "mean", "last")
PUNCTUATION = ("keep", "drop")

MODEL_FILE = "model.safetensors"


def read_text_csv(
    path: Path, text_column: str, label_column: str | None
) -> tuple[list[str], list[Any] | None]:
    """Texts (and labels) from a CSV file; empty cells become empty texts (the classifier warns)."""
    return _texts_and_labels(_read_text_frame(path, text_column), path, text_column, label_column)


def _texts_and_labels(
    frame: pd.DataFrame, path: Path, text_column: str, label_column: str | None
) -> tuple[list[str], list[Any] | None]:
    """The texts (and labels) of a table read by :func:`_read_text_frame`; a missing column is an error."""
    from lstmkit.classify.csv_format import labels_from_column

    for name, column in (("--text-column", text_column), ("--label-column", label_column)):
        if column is not None and column not in frame.columns:
            raise ValueError(f"{name} {column!r} is not a column of '{path}'; columns: {list(frame.columns)}")
    labels = None
    if label_column is not None:
        if (frame[label_column].astype(str).str.strip() == "").any():
            row = int((frame[label_column].astype(str).str.strip() == "").to_numpy().argmax())
            raise ValueError(f"'{path}' row {row + 1} has an empty label in column {label_column!r}")
        labels = labels_from_column(frame[label_column], path).tolist()
    return frame[text_column].astype(str).tolist(), labels


def _read_text_frame(path: Path, text_column: str) -> pd.DataFrame:
    """The CSV as a table of strings (empty cells stay empty strings, ``NA`` stays a word)."""
    from lstmkit.utils.tables import read_table

    return read_table(
        path, "a header row and one text per row", keep_default_na=False, dtype={text_column: str}
    )


def read_labelled_texts(
    path: Path, text_column: str, label_column: str, tokenizer: Tokenizer
) -> tuple[list[str], list[Any]]:
    """Texts and labels of a training or evaluation CSV, less the texts that are empty after tokenization.

    A warning names the rows left out, counted from 1 below the header as in the other CSV messages.

    Raises:
        ValueError: the file cannot be read (see :func:`read_text_csv`), or every text is empty.
    """
    texts, labels = read_text_csv(path, text_column, label_column)
    assert labels is not None  # read_text_csv returns labels when given a label column
    empty = [row for row, text in enumerate(texts) if not tokenizer(text)]
    if not empty:
        return texts, labels
    if len(empty) == len(texts):
        raise ValueError(f"every text of '{path}' is empty after tokenization; expected words to learn from")
    rows = ", ".join(str(row + 1) for row in empty[:5]) + (" ..." if len(empty) > 5 else "")
    click.echo(
        f"lstmkit: warning: '{path}': {len(empty)} text(s) are empty after tokenization and were skipped "
        f"(rows {rows})",
        err=True,
    )
    skipped = set(empty)
    kept = [row for row in range(len(texts)) if row not in skipped]
    return [texts[row] for row in kept], [labels[row] for row in kept]


def _report_lines(name: str, report: ClassificationReport, majority: float) -> list[str]:
    from lstmkit.classify.metrics import format_confusion

    return [
        f"{name}: accuracy {report.accuracy:.4f}   macro F1 {report.macro_f1:.4f}   "
        f"(majority class {majority:.4f})",
        format_confusion(report.confusion, report.labels),
    ]


def _metrics(report: ClassificationReport, majority: float, n: int) -> dict[str, Any]:
    return {
        "accuracy": report.accuracy,
        "macro_f1": report.macro_f1,
        "majority_accuracy": majority,
        "confusion_matrix": report.confusion.tolist(),
        "labels": report.labels,
        "n": n,
    }


@click.group()
def text() -> None:
    """Sentence classification (sentiment, topics) with a BiLSTM."""


@text.command()
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--text-column", default="text", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option("--valid", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Validation CSV.")
@click.option(
    "--valid-split",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.1,
    show_default=True,
    help="Without --valid, hold out this fraction of DATA for validation.",
)
@click.option("--test", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Test CSV.")
@click.option("--epochs", type=click.IntRange(min=1), default=15, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=2e-3, show_default=True)
@click.option("--patience", type=click.IntRange(min=1), default=4, show_default=True)
@click.option(
    "--reduce-lr-patience",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Halve the learning rate after this many epochs without a lower validation loss.",
)
@click.option("--embedding-dim", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--hidden-size", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--num-layers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.5, show_default=True)
@click.option("--pooling", type=click.Choice(POOLINGS), default="max", show_default=True)
@click.option("--min-freq", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--max-vocab", type=click.IntRange(min=1), default=30000, show_default=True)
@click.option("--punctuation", type=click.Choice(PUNCTUATION), default="keep", show_default=True)
@click.option(
    "--vectors",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Pretrained GloVe/word2vec text-format vectors.",
)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option(
    "--out",
    type=OutFolder(),
    required=True,
    help="Write metrics.json and the model here.",
)
def train(
    data: Path,
    text_column: str,
    label_column: str,
    valid: Path | None,
    valid_split: float,
    test: Path | None,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    patience: int,
    reduce_lr_patience: int,
    embedding_dim: int,
    hidden_size: int,
    num_layers: int,
    dropout: float,
    pooling: str,
    min_freq: int,
    max_vocab: int,
    punctuation: str,
    vectors: Path | None,
    seed: int,
    out: Path,
) -> None:
    """Train a text classifier on DATA (CSV) and report accuracy and macro F1 beside the majority class.

    Texts that are empty after tokenization are left out of every file (a warning names their rows), so
    the model and the majority-class baseline are scored on the same rows.
    """
    from lstmkit.classify.baselines import majority_accuracy
    from lstmkit.classify.training import FitConfig
    from lstmkit.text.classifier import TextClassifier
    from lstmkit.text.tokenizer import Tokenizer
    from lstmkit.utils.serialization import atomic_write_text

    tokenizer = Tokenizer(punctuation=punctuation)
    texts, labels = read_labelled_texts(data, text_column, label_column, tokenizer)
    if valid is not None:
        valid_texts, valid_labels = read_labelled_texts(valid, text_column, label_column, tokenizer)
    else:
        order = list(range(len(texts)))
        random.Random(seed).shuffle(order)
        cut = round(len(texts) * valid_split)
        if cut == 0 or cut == len(texts):
            raise ValueError(
                f"--valid-split {valid_split} of {len(texts)} texts leaves no validation or no training "
                f"texts; give --valid DEV.csv or more data"
            )
        held, kept = set(order[:cut]), order[cut:]
        valid_texts = [texts[i] for i in sorted(held)]
        valid_labels = [labels[i] for i in sorted(held)]
        texts, labels = [texts[i] for i in kept], [labels[i] for i in kept]
    splits = [("validation", valid_texts, valid_labels)]
    if test is not None:
        test_texts, test_labels = read_labelled_texts(test, text_column, label_column, tokenizer)
        splits.append(("test", test_texts, test_labels))
    clf = TextClassifier(
        tokenizer,
        min_freq=min_freq,
        max_vocab=max_vocab,
        vectors=vectors,
        model_options={
            "embedding_dim": embedding_dim,
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "dropout": dropout,
            "pooling": pooling,
        },
        fit_config=FitConfig(
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            patience=patience,
            reduce_lr_patience=reduce_lr_patience,
            seed=seed,
        ),
        seed=seed,
    )
    click.echo(f"{data.name}: {len(texts)} training texts, {len(valid_texts)} validation texts")
    metrics: dict[str, Any] = {}
    lines: list[str] = []
    with warnings_as_lines():
        with tqdm(total=epochs, desc="training", unit="epoch", leave=False) as bar:

            def _progress(epoch: int, logs: dict[str, float]) -> None:
                bar.set_postfix(loss=f"{logs['loss']:.4f}", val_acc=f"{logs['val_accuracy']:.3f}")
                bar.update(1)

            clf.fit(texts, labels, validation=(valid_texts, valid_labels), callback=_progress)
        clf.text_column = text_column  # saved: lstmkit predict reads new files from the same column
        assert clf.vocabulary is not None
        click.echo(
            f"vocabulary: {len(clf.vocabulary)} tokens (min_freq {min_freq}); trained "
            f"{len(clf.history)} epoch(s)"
            + (f"; {clf.vectors_found} tokens had pretrained vectors" if vectors is not None else "")
        )
        for name, split_texts, split_labels in splits:
            report = clf.evaluate(split_texts, split_labels)
            majority = majority_accuracy(labels, split_labels)
            metrics[name] = _metrics(report, majority, len(split_labels))
            lines += _report_lines(name, report, majority)
    click.echo("\n".join(lines))
    final = metrics.get("test", metrics["validation"])
    summary = {
        "split": "test" if "test" in metrics else "validation",
        "accuracy": final["accuracy"],
        "macro_f1": final["macro_f1"],
        "majority_accuracy": final["majority_accuracy"],
        "epochs_trained": len(clf.history),
        "vocabulary_size": len(clf.vocabulary),
        **metrics,
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "metrics.json", json.dumps(summary, indent=2) + "\n")
    clf.save(out / MODEL_FILE)
    click.echo(f"wrote {out / 'metrics.json'} and {out / MODEL_FILE}")


@text.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("texts", nargs=-1)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read texts from this CSV instead.",
)
@click.option(
    "--text-column",
    default=None,
    help="The --csv column of texts. [default: the model's training column, else text]",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write predictions to this CSV.")
def predict(
    model: Path, texts: tuple[str, ...], csv_path: Path | None, text_column: str | None, out: Path | None
) -> None:
    """Label TEXTS (or the texts of --csv) with the saved text model MODEL; print labels and probabilities.

    A single TEXTS argument that names a CSV file (``reviews.csv``) is read as ``--csv``.
    """
    from lstmkit.text.classifier import TextClassifier

    if csv_path is None and len(texts) == 1 and _names_a_csv(texts[0]):
        if not Path(texts[0]).is_file():  # a mistyped file name must not be classified as a sentence
            raise ValueError(
                f"no CSV file at '{texts[0]}'; give an existing file (or --csv FILE) to label its texts"
            )
        csv_path, texts = Path(texts[0]), ()
    if csv_path is not None and texts:
        raise ValueError("give either TEXTS or --csv FILE, not both")
    if csv_path is None and not texts:
        raise ValueError("no texts given; pass one or more texts or --csv FILE")
    clf = TextClassifier.load(model)
    items = list(texts) if csv_path is None else read_texts_like_training(csv_path, clf, text_column)
    write_text_predictions(clf, items, out)


def _names_a_csv(text: str) -> bool:
    """Whether a TEXTS argument is a CSV file name rather than a sentence: one word ending in ``.csv``."""
    return text.lower().endswith(".csv") and len(text.split()) == 1


def write_text_predictions(clf: TextClassifier, items: list[str], out: Path | None) -> None:
    """Print (or write as CSV) each text's predicted label and class probabilities."""
    import pandas as pd

    from lstmkit.utils.serialization import atomic_write_text

    probabilities = clf.predict_proba(items)
    labels = clf.encoder.decode(probabilities.argmax(axis=1)) if clf.encoder else []
    columns = {f"p_{c}": probabilities[:, k] for k, c in enumerate(clf.classes)}
    frame = pd.DataFrame({"text": items, "label": labels, **columns})
    if out is not None:
        atomic_write_text(out, frame.to_csv(index=False, float_format="%.6f"))
        click.echo(f"wrote {len(items)} predictions to {out}")
        return
    for row in frame.itertuples(index=False):
        probs = "  ".join(f"{name}={value:.3f}" for name, value in zip(columns, row[2:], strict=True))
        click.echo(f"{row.label}\t{probs}\t{row.text}")


def read_texts_like_training(path: Path, clf: TextClassifier, text_column: str | None = None) -> list[str]:
    """The texts of a CSV, from ``text_column`` or else the column the model was trained on (``text``).

    Raises:
        ValueError: the file has no such column (the message names the model's training column).
    """
    column = text_column or clf.text_column or "text"
    frame = _read_text_frame(path, column)
    if text_column is None and column not in frame.columns:
        origin = "its training column" if clf.text_column else "the default for models saved without one"
        raise ValueError(
            f"this model reads texts from the column {column!r} ({origin}), but '{path}' has no such "
            f"column; columns: {list(frame.columns)}; rename the column or pass --text-column"
        )
    texts, _ = _texts_and_labels(frame, path, column, None)
    return texts


def predict_text_classifier(
    model_path: Path, data_path: Path, out: Path | None, text_column: str | None = None
) -> None:
    """``lstmkit predict MODEL DATA.csv`` for saved ``text_classifier`` models.

    Texts are read from ``text_column`` (``--text-column``), else from the column the model was trained
    on (``text`` for models saved without it).
    """
    from lstmkit.text.classifier import TextClassifier

    clf = TextClassifier.load(model_path)
    write_text_predictions(clf, read_texts_like_training(data_path, clf, text_column), out)
