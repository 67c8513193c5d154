from __future__ import annotations

import numpy as np
import pytest

from gemmtune.int8 import DTYPE_PAIRS, max_k, normalize_pair


def test_pairs_from_numpy_dtypes():
    assert DTYPE_PAIRS == ("u8s8", "s8s8", "u8u8", "s8u8")
    assert normalize_pair(np.uint8, np.int8) == "u8s8"
    assert normalize_pair(np.dtype("int8"), "uint8") == "s8u8"
    assert normalize_pair("s8s8") == "s8s8"


@pytest.mark.parametrize("a, b", [(np.float32, np.int8), (np.uint8, np.int16), ("int32", "int8")])
def test_other_dtypes_are_refused(a, b):
    with pytest.raises(TypeError, match="uint8 or int8"):
        normalize_pair(a, b)


def test_unknown_pair_name():
    with pytest.raises(ValueError, match="u8s8"):
        normalize_pair("u8u16")


def test_max_k_without_zero_points():
    limit = 2**31 - 1
    assert max_k("u8s8") == limit // (255 * 128) == 65793
    assert max_k("s8s8") == limit // (128 * 128) == 131071
    assert max_k("u8u8") == limit // (255 * 255) == 33025
    assert max_k("s8u8") == 65793


def test_max_k_with_zero_points():
    # A zero point of 128 centres uint8: |A - 128| <= 128.
    assert max_k("u8u8", 128, 128) == (2**31 - 1) // (128 * 128)
    # A vector zero point: the worst entry counts; an int8 B with zero point 127 reaches 255.
    assert max_k("u8s8", [0, 128], 127) == (2**31 - 1) // (255 * 255)
