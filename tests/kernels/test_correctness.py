"""Every kernel family the generator emits is exact on every shape, layout and alpha/beta."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gemmtune.kernels.reference import check, naive_gemm, verify_kernel

from tests.conftest import examples
from .conftest import FRINGE_SETS

PRIMES = [2, 3, 5, 7, 11, 13, 17, 31, 37, 61, 67, 97, 127, 131, 257, 263, 293]
sizes = st.one_of(st.sampled_from([1] + PRIMES), st.integers(1, 300))


def operand(rng, rows, cols, dtype, order):
    """A matrix in one of the layouts users pass: C, Fortran, a transposed view, a strided view."""
    if order == "C":
        return rng.standard_normal((rows, cols)).astype(dtype)
    if order == "F":
        return np.asfortranarray(rng.standard_normal((rows, cols)).astype(dtype))
    if order == "T":
        return rng.standard_normal((cols, rows)).astype(dtype).T
    big = rng.standard_normal((2 * rows, 3 * cols)).astype(dtype)
    return big[::-2, ::3]  # negative row stride, non-unit column stride


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("index", [0, 1, 2])
@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=sizes, n=sizes, k=sizes,
       a_order=st.sampled_from("CFTS"), b_order=st.sampled_from("CFTS"), c_order=st.sampled_from("CFS"),
       alpha=st.sampled_from([1.0, -0.5, 2.0]), beta=st.sampled_from([0.0, 1.0, -1.5]),
       seed=st.integers(0, 2**32 - 1), threads=st.sampled_from([1, 2]))
def test_matches_float64_reference(kernels, dtype, index, m, n, k, a_order, b_order, c_order,
                                   alpha, beta, seed, threads):
    rng = np.random.default_rng(seed)
    A = operand(rng, m, k, dtype, a_order)
    B = operand(rng, k, n, dtype, b_order)
    C0 = operand(rng, m, n, dtype, c_order)
    if beta == 0.0:
        C0[...] = np.nan  # BLAS semantics: with beta = 0, C is written, never read
    C = C0.copy(order="K") if c_order != "S" else C0
    before = C0.copy()
    kernels(dtype, index)(A, B, C, alpha=alpha, beta=beta, threads=threads)
    verdict = check(C, A, B, alpha, beta, before)
    assert verdict.ok, f"{FRINGE_SETS[dtype][index].label()} {m}x{n}x{k}: {verdict.reason}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fringe_shapes_and_poison(kernels, dtype):
    for index in range(len(FRINGE_SETS[dtype])):
        verdict = verify_kernel(kernels(dtype, index), 101, 103, 107, dtype, threads=2)
        assert verdict.status == "PASS", verdict.reason


def test_oracle_agrees_with_numpy():
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((7, 5)), rng.standard_normal((5, 3))
    assert np.allclose(naive_gemm(A, B), A @ B, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
def test_nan_inf_positions_match_numpy(kernels, dtype, special):
    rng = np.random.default_rng(2)
    m, n, k = 37, 41, 29
    A = rng.standard_normal((m, k)).astype(dtype)
    B = rng.standard_normal((k, n)).astype(dtype)
    A[3, 4] = special
    B[7, 9] = special
    got = kernels(dtype, 0)(A, B)
    want = A.astype(np.float64) @ B.astype(np.float64)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.array_equal(np.isposinf(got), np.isposinf(want))
    assert np.array_equal(np.isneginf(got), np.isneginf(want))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_degenerate_and_aliasing(kernels, dtype):
    k = kernels(dtype, 0)
    rng = np.random.default_rng(3)
    A = rng.standard_normal((9, 9)).astype(dtype)
    # out aliasing both inputs goes through a temporary and is still exact
    A0 = A.copy()
    k(A, A, A)
    assert check(A, A0, A0).status == "PASS"
    # K = 0: an empty sum, C = beta * C
    C = np.ones((3, 4), dtype)
    k(np.empty((3, 0), dtype), np.empty((0, 4), dtype), C, beta=2.0)
    assert np.array_equal(C, np.full((3, 4), 2.0, dtype))
    # M = 0 or N = 0: nothing to compute
    assert k(np.empty((0, 5), dtype), np.ones((5, 3), dtype)).shape == (0, 3)
