from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lstmkit.text.vectors import load_vectors
from lstmkit.text.vocabulary import Vocabulary

VOCAB = Vocabulary(["good", "bad", "rare"])


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vectors.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_glove_format(tmp_path: Path) -> None:
    matrix, found = load_vectors(write(tmp_path, "good 1 2\nbad -1 -2\nother 5 5\n"), VOCAB)
    assert matrix.shape == (5, 2) and matrix.dtype == np.float32
    assert found == 2
    np.testing.assert_array_equal(matrix[2], [1, 2])
    np.testing.assert_array_equal(matrix[0], [0, 0])  # padding row
    assert np.abs(matrix[4]).max() <= 0.1  # a token without a vector gets a small random one


def test_word2vec_header_is_skipped(tmp_path: Path) -> None:
    matrix, found = load_vectors(write(tmp_path, "2 3\ngood 1 2 3\nbad 4 5 6\n"), VOCAB)
    assert matrix.shape == (5, 3) and found == 2


def test_tokens_with_spaces_are_read_whole(tmp_path: Path) -> None:
    # glove.840B.300d has lines such as ". . . v_1 ... v_300"
    matrix, found = load_vectors(write(tmp_path, "good 1 2 3\n. . . 0.1 0.2 0.3\nbad -1 -2 -3\n"), VOCAB)
    assert matrix.shape == (5, 3) and found == 2
    np.testing.assert_array_equal(matrix[3], [-1, -2, -3])


def test_word2vec_header_sets_the_length_before_a_token_with_spaces(tmp_path: Path) -> None:
    matrix, found = load_vectors(write(tmp_path, "2 2\nat home 1 2\ngood 3 4\n"), VOCAB)
    assert matrix.shape == (5, 2) and found == 1
    np.testing.assert_array_equal(matrix[2], [3, 4])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "good 1 2\nbad 1\n", "line 2: vector of length 1, the first vector \\(line 1\\) has 2", id="dims"
        ),
        pytest.param("good 1 x\n", "line 1: a vector value is not a number", id="text"),
        pytest.param("", "holds no vectors", id="empty"),
        pytest.param("3 2\n", "holds no vectors", id="header-only"),
        pytest.param(
            "2 0\ngood 1\n", "line 1: the word2vec header 'count dim' gives dim 0", id="header-dim-0"
        ),
        pytest.param(
            "2 3\ngood 1 2\n",
            "line 2: vector of length 2, the word2vec header on line 1 says 3",
            id="header-dims",
        ),
        pytest.param(
            "bad 1 2\ngood nan 2\n", "line 2: the vector of 'good' holds 'nan'; expected finite", id="nan"
        ),
        pytest.param("good 1 -inf\n", "line 1: the vector of 'good' holds '-inf'", id="inf"),
        pytest.param("good 1 2\nbad 1 2 3\n", "line 2: vector of length 3, the first", id="longer-vector"),
        pytest.param(
            "2 2\ngood 1 2 3\n", "line 2: vector of length 3, the word2vec header", id="header-dims-short"
        ),
        pytest.param("good 1 2\nbad\n", "line 2: vector of length 0", id="token-alone"),
        pytest.param("good 1 1e39\n", "line 1: the vector of 'good' holds '1e39'", id="float32-overflow"),
    ],
)
def test_bad_vector_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_vectors(write(tmp_path, text), VOCAB)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no word-vector file"):
        load_vectors(tmp_path / "absent.txt", VOCAB)


def test_a_byte_order_mark_and_tabs_are_not_part_of_a_token(tmp_path: Path) -> None:
    matrix, found = load_vectors(write(tmp_path, "\ufeffgood 1 2\nbad\t3\t4\n"), VOCAB)
    assert found == 2
    np.testing.assert_array_equal(matrix[2:4], [[1, 2], [3, 4]])


def test_a_token_given_twice_keeps_its_first_vector(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="1 vocabulary token\\(s\\) have more than one vector; the first"):
        matrix, found = load_vectors(write(tmp_path, "good 1 2\ngood 3 4\n"), VOCAB)
    assert found == 1
    np.testing.assert_array_equal(matrix[2], [1, 2])


def test_lines_that_are_not_utf8_are_counted_in_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt"
    path.write_bytes("good 1 2\ncafé 3 4\nbad 5 6\n".encode("latin-1"))
    with pytest.warns(UserWarning, match="1 line\\(s\\) are not UTF-8 \\(first: line 2\\)"):
        _, found = load_vectors(path, VOCAB)
    assert found == 2
