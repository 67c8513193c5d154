"""Numerics the kernel suite (tests/kernels/test_correctness.py) does not already pin down:
alpha = 0, NaN/Inf in C, Inf * 0 and Inf - Inf, subnormals, a huge K, negative strides in
both directions with an `out` view into a larger array.

The kernel computes ``alpha * (A @ B) + beta * C`` like the numpy expression, so NaN or Inf
in A or B reach C even when alpha is 0 (0 * Inf is NaN), and with beta = 0 C is written and
never read (BLAS), so NaN or Inf already in C disappear.
"""

from __future__ import annotations

import numpy as np
import pytest

from gemmtune.kernels.reference import PASS_THRESHOLD, check, reference

# (dtype, index into FRINGE_SETS): packed operands with parallel ic, packed with parallel jr,
# and operands read in place (pack_a = pack_b = False).
KERNELS = [("float32", 0), ("float64", 0), ("float32", 1)]


def _same_specials(got: np.ndarray, want: np.ndarray) -> None:
    for test in (np.isnan, np.isposinf, np.isneginf):
        assert np.array_equal(test(got), test(want)), test.__name__


@pytest.mark.parametrize("dtype, index", KERNELS)
@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_alpha_zero(kernels, dtype, index, beta):
    rng = np.random.default_rng(4)
    m, n, k = 23, 37, 19
    A = rng.standard_normal((m, k)).astype(dtype)
    B = rng.standard_normal((k, n)).astype(dtype)
    C0 = rng.standard_normal((m, n)).astype(dtype)
    kern = kernels(dtype, index)
    # Finite operands: C = beta * C exactly (and with beta = 0, exactly zero).
    C = C0.copy()
    kern(A, B, C, alpha=0.0, beta=beta)
    assert np.array_equal(C, (np.asarray(beta, dtype) * C0).astype(dtype))
    # NaN and Inf in A or B still reach C, as in numpy's 0 * (A @ B) + beta * C.
    A[3, 4], B[7, 9], B[2, 30] = np.nan, np.inf, -np.inf
    C = C0.copy()
    kern(A, B, C, alpha=0.0, beta=beta)
    want = reference(A, B, 0.0, beta, C0)
    _same_specials(C, want)
    assert np.isnan(C[3]).all() and np.isnan(C[:, 9]).all()
    assert check(C, A, B, 0.0, beta, C0).ok


@pytest.mark.parametrize("dtype, index", KERNELS)
def test_nan_and_inf_in_c(kernels, dtype, index):
    rng = np.random.default_rng(5)
    m, n, k = 29, 35, 17
    A = rng.standard_normal((m, k)).astype(dtype)
    B = rng.standard_normal((k, n)).astype(dtype)
    C0 = rng.standard_normal((m, n)).astype(dtype)
    C0[::3, ::2] = np.nan
    C0[1::3, ::5] = np.inf
    C0[2::3, 1::4] = -np.inf
    kern = kernels(dtype, index)
    # beta = 0: C is overwritten, never read (BLAS), so no special value survives.
    C = C0.copy()
    kern(A, B, C, beta=0.0)
    assert np.isfinite(C).all() and check(C, A, B).status == "PASS"
    # beta != 0: they propagate exactly as in alpha * A @ B + beta * C.
    C = C0.copy()
    kern(A, B, C, alpha=2.0, beta=-1.0)
    _same_specials(C, reference(A, B, 2.0, -1.0, C0))
    assert check(C, A, B, 2.0, -1.0, C0).ok


@pytest.mark.parametrize("dtype, index", KERNELS)
def test_inf_times_zero_and_inf_minus_inf_are_nan(kernels, dtype, index):
    m, n, k = 13, 40, 11
    A = np.ones((m, k), dtype)
    B = np.ones((k, n), dtype)
    A[2, 3] = np.inf
    B[3, :] = 0           # row 2: Inf * 0 in every column
    A[5, 1], A[5, 2] = np.inf, np.inf
    B[2, 7] = -1          # row 5, column 7: Inf - Inf
    A[9, 0] = -np.inf     # row 9: -Inf * 1 (an Inf that must stay an Inf where B is not 0)
    got = kernels(dtype, index)(A, B)
    _same_specials(got, reference(A, B))
    assert np.isnan(got[2]).all() and np.isnan(got[5, 7]) and np.isneginf(got[9]).all()
    with np.errstate(invalid="ignore"):
        _same_specials(got, A @ B)  # numpy's own product agrees


@pytest.mark.parametrize("dtype, index", KERNELS)
@pytest.mark.parametrize("case", ["subnormal inputs", "products underflow", "subnormal C"])
def test_subnormals_are_kept_not_flushed(kernels, dtype, index, case):
    rng = np.random.default_rng(6)
    m, n, k = 17, 33, 25
    info = np.finfo(dtype)
    tiny, sub = float(info.smallest_normal), float(info.smallest_subnormal)
    A = rng.standard_normal((m, k))
    B = rng.standard_normal((k, n))
    C0 = np.zeros((m, n))
    beta = 0.0
    if case == "subnormal inputs":
        A *= tiny / 64       # every element of A is subnormal
    elif case == "products underflow":
        A *= np.sqrt(tiny) / 16  # normal operands whose products are subnormal
        B *= np.sqrt(tiny) / 16
    else:
        A *= tiny / 64
        C0 = rng.standard_normal((m, n)) * tiny / 64
        beta = 1.0
    A, B, C0 = A.astype(dtype), B.astype(dtype), C0.astype(dtype)
    if case == "products underflow":
        assert (np.abs(A) >= tiny).all() and (np.abs(B) >= tiny).all()
    else:
        assert (np.abs(A) < tiny).all()
    C = C0.copy()
    kernels(dtype, index)(A, B, C, beta=beta)
    want = reference(A, B, 1.0, beta, C0)
    assert np.mean(np.abs(want) < tiny) > 0.9  # the results are subnormal too
    # With gradual underflow every rounding error is at most half a subnormal step: K
    # products, the final rounding, and beta * C (exact). Flush-to-zero would lose it all.
    err = np.abs(C.astype(np.float64) - want)
    assert err.max() <= (k + 1) * sub, err.max() / sub
    assert np.count_nonzero(C) == np.count_nonzero(want) > 0.9 * m * n


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("signs", ["mixed", "positive"])
def test_huge_k_stays_within_the_residual_bound(kernels, dtype, signs):
    # KC = 7 in this kernel: C is rounded after each of 14286 pc blocks, the worst case
    # for the error accumulated in C.
    rng = np.random.default_rng(7)
    m, n, k = 3, 5, 100_000
    if signs == "mixed":
        A, B = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    else:
        A, B = rng.random((m, k)), rng.random((k, n))  # no cancellation: every error adds up
    A, B = A.astype(dtype), B.astype(dtype)
    verdict = check(kernels(dtype, 0)(A, B, threads=2), A, B)
    assert verdict.status == "PASS" and verdict.residual < PASS_THRESHOLD, verdict


@pytest.mark.parametrize("dtype, index", KERNELS)
def test_negative_strides_everywhere_and_out_view_of_a_larger_array(kernels, dtype, index):
    rng = np.random.default_rng(8)
    m, n, k = 31, 26, 19
    A = rng.standard_normal((2 * m, 2 * k)).astype(dtype)[::-2, ::-2]   # both strides < 0
    B = rng.standard_normal((k, 3 * n)).astype(dtype)[::-1, ::-3]
    big = rng.standard_normal((2 * m + 1, 2 * n)).astype(dtype)
    around = big.copy()
    C = big[-1:0:-2, ::-2]                                               # out: a view, strides < 0
    C0 = C.copy()
    assert C.strides[0] < 0 and C.strides[1] < 0 and A.strides[1] < 0 and B.strides[1] < 0
    kernels(dtype, index)(A, B, C, alpha=-0.5, beta=1.5)
    verdict = check(C, A, B, -0.5, 1.5, C0)
    assert verdict.status == "PASS", verdict.reason
    mask = np.ones(big.shape, bool)
    mask[-1:0:-2, ::-2] = False
    assert np.array_equal(big[mask], around[mask])  # nothing outside the view is touched
    # Transposed views of reversed arrays as operands.
    At = rng.standard_normal((k, m)).astype(dtype)[::-1].T
    Bt = rng.standard_normal((n, k)).astype(dtype)[:, ::-1].T
    verdict = check(kernels(dtype, index)(At, Bt), At, Bt)
    assert verdict.status == "PASS", verdict.reason
