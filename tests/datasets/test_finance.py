"""Bundled forecasting series: present, unchanged copies of the shared data, with attribution."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from lstmkit.datasets import finance


@pytest.mark.parametrize(
    ("name", "shared", "digest"),
    [
        (finance.DEXUSEU_FILE, "finance/dexuseu_daily.csv", "bce5a64debb3af30"),
        (finance.AIRLINE_FILE, "series/airline_monthly.csv", "28af0eb869db6d9f"),
    ],
    ids=["dexuseu", "airline"],
)
def test_bundled_copies_are_unchanged(shared_data: Path, name: str, shared: str, digest: str) -> None:
    bundled = finance.bundled_path(name).read_bytes()
    assert hashlib.sha256(bundled).hexdigest()[:16] == digest
    assert bundled == (shared_data / shared).read_bytes()


def test_loaders() -> None:
    dexuseu = finance.load_dexuseu()
    assert list(dexuseu.columns) == ["DATE", "DEXUSEU"]
    assert int(dexuseu["DEXUSEU"].isna().sum()) == 223  # FRED's holidays, written '.'
    assert finance.load_airline()["Passengers"].iloc[0] == 112


def test_attribution_is_shipped() -> None:
    text = (finance.dexuseu_path().parent / "FORECASTING_DATA.md").read_text()
    assert "retrieved from FRED" in text and "Box" in text


def test_unknown_file() -> None:
    with pytest.raises(FileNotFoundError, match=r"ships no data file named 'x\.csv'"):
        finance.bundled_path("x.csv")
