from __future__ import annotations

import numpy as np
import pytest

from gemmtune.int8 import DTYPE_PAIRS, f32_exact_k, max_k, normalize_pair, pair_dtypes


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


def test_f32_exact_k_is_where_float32_sums_stop_being_exact():
    assert {p: f32_exact_k(p) for p in DTYPE_PAIRS} == {
        "u8s8": 2**24 // (255 * 128), "s8s8": 2**24 // (128 * 128), "u8u8": 2**24 // (255 * 255),
        "s8u8": 2**24 // (128 * 255)} == {"u8s8": 514, "s8s8": 1024, "u8u8": 258, "s8u8": 514}
    for pair in DTYPE_PAIRS:
        # The worst sum at the bound: every product at its largest magnitude, still exact.
        a_dt, b_dt = pair_dtypes(pair)
        k = f32_exact_k(pair)
        a = np.full((1, k), np.iinfo(a_dt).max if a_dt == np.uint8 else np.iinfo(a_dt).min, a_dt)
        b = np.full((k, 1), np.iinfo(b_dt).max if b_dt == np.uint8 else np.iinfo(b_dt).min, b_dt)
        exact = a.astype(np.int64) @ b.astype(np.int64)
        assert (a.astype(np.float32) @ b.astype(np.float32)).astype(np.int64) == exact
    # One more term of 255 * 255 and the (odd) sum is past 2**24: float32 rounds it.
    a = np.full((1, 259), 255, np.uint8)
    assert int((a.astype(np.float32) @ a.T.astype(np.float32))[0, 0]) != 259 * 255 * 255
