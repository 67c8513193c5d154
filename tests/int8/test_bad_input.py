"""Bad input: TypeError or ValueError with one clear sentence, before any work."""

from __future__ import annotations

import numpy as np
import pytest

from gemmtune.int8 import check_int8_operands, max_k

A = np.zeros((4, 3), np.uint8)
B = np.zeros((3, 5), np.int8)


@pytest.mark.parametrize("args, exc, words", [
    (([[1]], B), TypeError, "A must be a numpy array"),
    ((A, np.zeros(3, np.int8)), ValueError, "B must be 2-D"),
    ((A.astype(np.int16), B), TypeError, "A has dtype int16"),
    ((A, B.astype(np.float32)), TypeError, "B has dtype float32"),
    ((A, np.zeros((4, 5), np.int8)), ValueError, "do not align"),
    ((A, B, np.zeros((4, 5), np.int64)), TypeError, "int32"),
    ((A, B, np.zeros((5, 4), np.int32)), ValueError, "out has shape"),
    ((A, B, None, 1.5), TypeError, "a_zero_point must be an integer"),
    ((A, B, None, True), TypeError, "got a bool"),
    ((A, B, None, [1, 2]), ValueError, "vector of 4 values"),
    ((A, B, None, 256), ValueError, "0..255"),
    ((A, B, None, None, -129), ValueError, "-128..127"),
    ((A, B, None, None, np.zeros((5, 1), np.int8)), ValueError, "one per column of B"),
])
def test_one_sentence_errors(args, exc, words):
    with pytest.raises(exc, match=words) as info:
        check_int8_operands(*args)
    assert str(info.value).count(". ") == 0 and str(info.value).endswith(".")


def test_read_only_out():
    out = np.zeros((4, 5), np.int32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        check_int8_operands(A, B, out)


def test_kernel_refuses_bad_beta_wrong_pair_and_overflowing_k(int8_kernel):
    kernel = int8_kernel("generic", "u8s8")
    with pytest.raises(ValueError, match="beta must be 0 or 1"):
        kernel(A, B, np.zeros((4, 5), np.int32), beta=2)
    with pytest.raises(TypeError, match="beta must be 0 or 1"):
        kernel(A, B, beta="1")
    with pytest.raises(TypeError, match="this kernel multiplies u8s8, got s8s8"):
        kernel(A.astype(np.int8), B)
    with pytest.raises(ValueError, match="threads"):
        kernel(A, B, threads=0)
    k = max_k("u8s8") + 1
    with pytest.raises(ValueError, match=f"the largest K allowed is {k - 1}"):
        kernel(np.zeros((1, k), np.uint8), np.zeros((k, 1), np.int8))
    # A zero point that widens the range lowers the limit.
    k2 = max_k("u8s8", 0, 127)
    with pytest.raises(ValueError, match=f"the largest K allowed is {k2}"):
        kernel(np.zeros((1, k2 + 1), np.uint8), np.zeros((k2 + 1, 1), np.int8), b_zero_point=127)
