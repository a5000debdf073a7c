"""SST-2 sentence classification: our BiLSTM's test accuracy beside the published numbers.

Trains on ../shared/data/text/sst2/train.csv (sentences only, 6,920), keeps the epoch with the best dev
accuracy (dev.csv, 872), and scores test.csv (1,821) once. No pretrained vectors unless ``--vectors``.
Published SST-2 test accuracies (../shared/data/README.md) were trained on phrase-level labels with
pretrained word vectors, so they are an upper reference, not a like-for-like comparison.

    PYTHONPATH=src python benchmarks/text_accuracy.py [--epochs 15] [--threads 1] [--vectors glove.txt]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch

from lstmkit.classify.baselines import majority_accuracy
from lstmkit.classify.training import FitConfig
from lstmkit.text.classifier import TextClassifier

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "text" / "sst2"
PUBLISHED = [
    ("LSTM (Tai et al. 2015; phrases + GloVe)", 0.849),
    ("BiLSTM (Tai et al. 2015; phrases + GloVe)", 0.875),
    ("2-layer BiLSTM (Tai et al. 2015; phrases + GloVe)", 0.872),
    ("CNN non-static (Kim 2014; phrases + word2vec)", 0.872),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--embedding-dim", type=int, default=100)
    parser.add_argument("--hidden-size", type=int, default=100)
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--min-freq", type=int, default=2)
    parser.add_argument("--patience", type=int, default=4)
    parser.add_argument("--reduce-lr-patience", type=int, default=1)
    parser.add_argument("--vectors", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train, dev, test = (pd.read_csv(DATA / f"{split}.csv") for split in ("train", "dev", "test"))
    clf = TextClassifier(
        min_freq=args.min_freq,
        vectors=args.vectors,
        model_options={
            "embedding_dim": args.embedding_dim,
            "hidden_size": args.hidden_size,
            "dropout": args.dropout,
        },
        fit_config=FitConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            patience=args.patience,
            reduce_lr_patience=args.reduce_lr_patience,
            seed=args.seed,
        ),
        seed=args.seed,
    )
    start = time.perf_counter()

    def progress(epoch: int, logs: dict[str, float]) -> None:
        print(
            f"epoch {epoch + 1}: loss {logs['loss']:.4f} acc {logs['accuracy']:.4f} "
            f"dev loss {logs['val_loss']:.4f} dev acc {logs['val_accuracy']:.4f} "
            f"({time.perf_counter() - start:.0f} s)",
            flush=True,
        )

    clf.fit(
        train.text.tolist(),
        train.label.tolist(),
        validation=(dev.text.tolist(), dev.label.tolist()),
        callback=progress,
    )
    report = clf.evaluate(test.text.tolist(), test.label.tolist())
    best_dev = max(log["val_accuracy"] for log in clf.history)
    majority = majority_accuracy(train.label.tolist(), test.label.tolist())
    assert clf.vocabulary is not None
    print(
        f"\nBiLSTM max-pool, embedding {args.embedding_dim}, hidden {args.hidden_size}, "
        f"dropout {args.dropout}, min_freq {args.min_freq} (vocabulary {len(clf.vocabulary)}), "
        f"Adam {args.learning_rate}, batch {args.batch_size}, {len(clf.history)} epochs (best dev kept), "
        f"{'vectors ' + str(args.vectors) if args.vectors else 'no pretrained vectors'}, seed {args.seed}"
    )
    print("| model | SST-2 test accuracy | macro F1 | note |")
    print("|---|---|---|---|")
    print(
        f"| lstmkit BiLSTM (ours) | {report.accuracy:.4f} | {report.macro_f1:.4f} | "
        f"best dev acc {best_dev:.4f} |"
    )
    print(f"| majority class | {majority:.4f} | - | |")
    for name, value in PUBLISHED:
        print(f"| {name} | {value:.3f} | - | published |")


if __name__ == "__main__":
    main()
