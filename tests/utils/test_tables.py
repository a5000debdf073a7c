"""read_table: a corrupt or truncated compressed CSV is one clear ValueError naming the file.

compression_of writes out pandas' rule for read_csv's compression option; it is held here to the rule of the
installed pandas (pandas.io.common, internal to pandas, so imported by the tests only).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path
from typing import Any

import pytest

from lstmkit.utils.tables import COMPRESSION_BY_SUFFIX, compression_of, read_table

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


def test_the_suffixes_are_those_pandas_infers_compression_from() -> None:
    from pandas.io.common import extension_to_compression

    assert extension_to_compression == COMPRESSION_BY_SUFFIX
    suffixes = list(COMPRESSION_BY_SUFFIX)
    assert all(  # longest suffix first: no suffix ends with one listed before it
        not later.endswith(earlier) for i, earlier in enumerate(suffixes) for later in suffixes[i + 1 :]
    )


NAMES = ["t.csv", "t.CSV.GZ", "t.tar.gz", "t.TAR.XZ", "t.tar", "t.csv.bz2", "t.zip", "t.xz", "t.zst", "gz"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "compression",
    ["infer", None, "gzip", {"method": "bz2", "compresslevel": 1}, {"method": "infer"}, {"method": None}],
    ids=["infer", "none", "gzip", "mapping-bz2", "mapping-infer", "mapping-none"],
)
def test_compression_of_agrees_with_pandas(name: str, compression: Any) -> None:
    from pandas.io.common import get_compression_method, infer_compression

    method, _ = get_compression_method(compression)
    assert compression_of(Path(name), compression) == infer_compression(name, method)


def test_a_corrupt_file_read_with_an_inferring_mapping_names_the_inferred_compression(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv.gz"
    path.write_bytes(CSV)
    with pytest.raises(ValueError, match=r"could not decompress '.*plain.csv.gz' as gzip \(BadGzipFile"):
        read_table(path, "a header row", compression={"method": "infer"})
