"""Time-series classification: UCR/UEA readers, 1-NN DTW baseline, LSTM and LSTM-FCN classifiers."""

from lstmkit.classify.classifier import ClassificationReport, TimeSeriesClassifier, score_predictions
from lstmkit.classify.csv_format import read_series_csv
from lstmkit.classify.dtw import dtw_distance_matrix, nearest_neighbor_predict
from lstmkit.classify.labels import LabelEncoder
from lstmkit.classify.metrics import accuracy, confusion_matrix, macro_f1, majority_class
from lstmkit.classify.models import LSTMFCN, LSTMClassifier
from lstmkit.classify.preprocess import fill_missing, normalize_series, pad_series
from lstmkit.classify.training import FitConfig
from lstmkit.classify.ts_format import SeriesDataset, read_ts

__all__ = [
    "LSTMFCN",
    "ClassificationReport",
    "FitConfig",
    "LSTMClassifier",
    "LabelEncoder",
    "SeriesDataset",
    "TimeSeriesClassifier",
    "accuracy",
    "confusion_matrix",
    "dtw_distance_matrix",
    "fill_missing",
    "macro_f1",
    "majority_class",
    "nearest_neighbor_predict",
    "normalize_series",
    "pad_series",
    "read_series_csv",
    "read_ts",
    "score_predictions",
]
