"""read_table: a corrupt or truncated compressed CSV is one clear ValueError naming the file."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pytest

from lstmkit.utils.tables import read_table

CSV = b"a,b\n1,2\n3,4\n"
LONG = b"a,b\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(2000))  # compresses to some kB


@pytest.mark.parametrize(
    ("name", "data", "compression"),
    [
        ("plain.csv.gz", CSV, "gzip"),  # not compressed at all: gzip.BadGzipFile
        ("plain.csv.bz2", CSV, "bz2"),  # OSError: Invalid data stream
        ("plain.csv.xz", CSV, "xz"),  # lzma.LZMAError
        ("plain.zip", CSV, "zip"),  # zipfile.BadZipFile
        ("cut.csv.gz", gzip.compress(LONG)[:1000], "gzip"),  # EOFError
        ("cut.csv.bz2", bz2.compress(LONG)[:1000], "bz2"),  # EOFError
        ("cut.csv.xz", lzma.compress(LONG)[:1000], "xz"),  # EOFError
    ],
    ids=["gz", "bz2", "xz", "zip", "truncated-gz", "truncated-bz2", "truncated-xz"],
)
def test_a_corrupt_compressed_file_is_a_value_error_naming_it(
    tmp_path: Path, name: str, data: bytes, compression: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValueError, match=rf"could not decompress '.*{name}' as {compression} \(") as info:
        read_table(path, "a header row")
    assert str(info.value).endswith(
        f"expected a CSV with a header row, compressed with {compression} (rename the file if it is not "
        f"compressed)"
    )


def test_a_sound_compressed_file_reads(tmp_path: Path) -> None:
    path = tmp_path / "table.csv.gz"
    path.write_bytes(gzip.compress(CSV))
    assert read_table(path, "a header row").to_dict("list") == {"a": [1, 3], "b": [2, 4]}
