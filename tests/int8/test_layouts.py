"""Any layout of A, B and out, beta, empty dimensions and threads, on the generic and the best kernel."""

from __future__ import annotations

import numpy as np
import pytest

from gemmtune.int8 import available_isas, exact_reference
from gemmtune.int8.verify import SENTINEL, random_operand

PAIR = "s8u8"  # both shifts and both compensation terms on VNNI
BEST = available_isas()[0] if available_isas()[0] in ("vnni512", "vnni256", "avx2") else "generic"


@pytest.fixture(params=sorted({"generic", BEST}))
def kernel(request, int8_kernel):
    return int8_kernel(request.param, PAIR)


def _operands(m=37, n=29, k=41, seed=1):
    rng = np.random.default_rng(seed)
    return random_operand(rng, (m, k), np.int8), random_operand(rng, (k, n), np.uint8)


@pytest.mark.parametrize("layout", ["C", "F", "transposed", "strided", "readonly", "negative"])
def test_any_input_layout(kernel, layout):
    A, B = _operands()
    if layout == "F":
        A, B = np.asfortranarray(A), np.asfortranarray(B)
    elif layout == "transposed":
        A, B = np.ascontiguousarray(A.T).T, np.ascontiguousarray(B.T).T
    elif layout == "strided":
        A2, B2 = _operands(74, 58, 82)
        A, B = A2[::2, ::2], B2[::2, ::2]
    elif layout == "readonly":
        A.flags.writeable = False
        B.flags.writeable = False
    elif layout == "negative":
        A, B = A[::-1], B[:, ::-1]
    np.testing.assert_array_equal(kernel(A, B, threads=1), exact_reference(A, B))


@pytest.mark.parametrize("layout", ["F", "strided", "C"])
def test_any_out_layout_and_beta(kernel, layout):
    A, B = _operands()
    m, n = A.shape[0], B.shape[1]
    base = np.random.default_rng(2).integers(-1000, 1000, size=(2 * m, 2 * n)).astype(np.int32)
    out = {"F": np.asfortranarray(base[:m, :n]), "strided": base[::2, ::2], "C": base[:m, :n].copy()}[layout]
    before = out.copy()
    got = kernel(A, B, out, beta=1, a_zero_point=3, b_zero_point=np.arange(n) % 256, threads=1)
    assert got is out
    np.testing.assert_array_equal(out, exact_reference(A, B, 3, np.arange(n) % 256, before))
    kernel(A, B, out, beta=0, threads=1)
    np.testing.assert_array_equal(out, exact_reference(A, B))


@pytest.mark.parametrize("m, n, k", [(0, 5, 3), (4, 0, 3), (4, 5, 0), (0, 0, 0)])
def test_empty_dimensions_like_numpy(kernel, m, n, k):
    A = np.ones((m, k), np.int8)
    B = np.ones((k, n), np.uint8)
    C = kernel(A, B, threads=1)
    assert C.shape == (m, n) and C.dtype == np.int32
    assert (C == 0).all()
    out = np.full((m, n), 7, np.int32)
    kernel(A, B, out, beta=1, threads=1)
    assert (out == 7).all()
    kernel(A, B, out, beta=0, threads=1)
    assert (out == 0).all()


@pytest.mark.parametrize("threads", [2, 3])
def test_threads_split_bands_exactly(kernel, threads):
    A, B = _operands(131, 97, 67)
    za, zb = np.arange(131) % 100 - 50, 200
    C = np.full((131, 97), SENTINEL, np.int32)
    kernel(A, B, C, a_zero_point=za, b_zero_point=zb, threads=threads)
    np.testing.assert_array_equal(C, exact_reference(A, B, za, zb))


def test_a_one_element_zero_point_is_a_scalar(kernel):
    A, B = _operands()
    np.testing.assert_array_equal(kernel(A, B, a_zero_point=np.array([-3]), b_zero_point=[200], threads=1),
                                  exact_reference(A, B, -3, 200))
