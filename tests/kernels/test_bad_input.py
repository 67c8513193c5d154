"""Bad operands raise TypeError/ValueError with one sentence naming the problem."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def k32(kernels):
    return kernels("float32", 0)


@pytest.mark.parametrize("make, exc, needle", [
    (lambda: (np.ones((3, 4), "f4"), np.ones((5, 2), "f4"), None), ValueError, "do not align"),
    (lambda: (np.ones((3, 4), "i4"), np.ones((4, 2), "i4"), None), TypeError, "dtype int32"),
    (lambda: (np.ones((3, 4), "f4"), np.ones((4, 2), "f8"), None), TypeError, "different dtypes"),
    (lambda: (np.ones(4, "f4"), np.ones((4, 2), "f4"), None), ValueError, "must be 2-D"),
    (lambda: (np.ones((2, 3, 4), "f4"), np.ones((4, 2), "f4"), None), ValueError, "must be 2-D"),
    (lambda: ([[1.0]], np.ones((1, 1), "f4"), None), TypeError, "must be a numpy array"),
    (lambda: (np.ones((3, 4), "f4"), np.ones((4, 2), "f4"), np.ones((3, 3), "f4")), ValueError, "out has shape"),
    (lambda: (np.ones((3, 4), "f4"), np.ones((4, 2), "f4"), np.ones((3, 2), "f8")), TypeError, "out has dtype"),
])
def test_bad_operands(k32, make, exc, needle):
    A, B, out = make()
    with pytest.raises(exc, match=needle):
        k32(A, B, out)


def test_read_only_out(k32):
    out = np.zeros((3, 2), "f4")
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        k32(np.ones((3, 4), "f4"), np.ones((4, 2), "f4"), out)


def test_wrong_kernel_dtype(k32):
    with pytest.raises(TypeError, match="this kernel multiplies float32"):
        k32(np.ones((3, 4)), np.ones((4, 2)))


def test_bad_scalars(k32):
    with pytest.raises(TypeError, match="alpha must be a real number"):
        k32(np.ones((3, 4), "f4"), np.ones((4, 2), "f4"), alpha="2")


def test_too_many_threads(k32):
    with pytest.raises(ValueError, match="threads=1000 is outside"):
        k32(np.ones((3, 4), "f4"), np.ones((4, 2), "f4"), threads=1000)
