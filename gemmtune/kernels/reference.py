"""The oracle: an obviously right GEMM, and the BLIS-style residual check.

The check compares a result with the float64 product:

    r = ||C - C_ref||_max / (max(|alpha|, 1) * ||A||_max * ||B||_max * K * eps + |beta| * ||C0||_max * eps)

A correct float32 or float64 kernel gives r of order 1 (each element is a sum of K rounded
products); an unwritten or wrong element gives r of 1e3 and up, and NaN where the reference
has none (or the reverse) is a failure outright.
"""

from __future__ import annotations

import numpy as np

from ..families.base import Verdict

PASS_THRESHOLD = 10.0       # r below this: PASS
MARGINAL_THRESHOLD = 100.0  # r below this: MARGINAL (reported, accepted); above: FAIL


def naive_gemm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Three loops in float64: slow, tiny, and obviously right. For small shapes only."""
    M, K = A.shape
    N = B.shape[1]
    C = np.zeros((M, N), dtype=np.float64)
    for i in range(M):
        for j in range(N):
            s = 0.0
            for p in range(K):
                s += float(A[i, p]) * float(B[p, j])
            C[i, j] = s
    return C


def reference(A: np.ndarray, B: np.ndarray, alpha: float = 1.0, beta: float = 0.0,
              C0: np.ndarray | None = None) -> np.ndarray:
    """alpha*A@B + beta*C0 in float64 (C0 is ignored when beta is 0, as in BLAS)."""
    with np.errstate(all="ignore"):
        ref = alpha * (A.astype(np.float64) @ B.astype(np.float64))
        if beta != 0 and C0 is not None:
            ref = ref + beta * C0.astype(np.float64)
    return ref


def check(C: np.ndarray, A: np.ndarray, B: np.ndarray, alpha: float = 1.0, beta: float = 0.0,
          C0: np.ndarray | None = None) -> Verdict:
    """Residual of ``C`` against alpha*A@B + beta*C0, normalised by eps and K."""
    ref = reference(A, B, alpha, beta, C0)
    if C.shape != ref.shape:
        return Verdict(float("inf"), "FAIL", f"result has shape {C.shape}, expected {ref.shape}")
    got = C.astype(np.float64)
    bad_nan = np.isnan(got) != np.isnan(ref)
    if bad_nan.any():
        i, j = np.argwhere(bad_nan)[0]
        return Verdict(float("inf"), "FAIL", f"NaN mismatch at ({i}, {j}): got {got[i, j]}, expected {ref[i, j]}")
    inf_ref = np.isinf(ref)
    if (np.isinf(got) != inf_ref).any() or (got[inf_ref] != ref[inf_ref]).any():
        i, j = np.argwhere((np.isinf(got) != inf_ref) | (inf_ref & (got != ref)))[0]
        return Verdict(float("inf"), "FAIL", f"Inf mismatch at ({i}, {j}): got {got[i, j]}, expected {ref[i, j]}")
    finite = np.isfinite(ref)
    if not finite.any():
        return Verdict(0.0, "PASS")
    eps = float(np.finfo(C.dtype).eps)
    K = A.shape[1]
    with np.errstate(all="ignore"):
        err = float(np.max(np.abs(got[finite] - ref[finite])))
        a_max = float(np.max(np.abs(A[np.isfinite(A)]), initial=0.0))
        b_max = float(np.max(np.abs(B[np.isfinite(B)]), initial=0.0))
        scale = max(abs(alpha), 1.0) * a_max * b_max * max(K, 1) * eps
        if beta != 0 and C0 is not None:
            c_max = float(np.max(np.abs(C0[np.isfinite(C0)]), initial=0.0))
            scale += abs(beta) * c_max * eps
        # Rounding the float64 reference to the output dtype costs half an ulp of |ref|.
        scale += float(np.max(np.abs(ref[finite]))) * eps
    if scale == 0.0:
        r = 0.0 if err == 0.0 else float("inf")
    else:
        r = err / scale
    if r < PASS_THRESHOLD:
        return Verdict(r, "PASS")
    if r < MARGINAL_THRESHOLD:
        return Verdict(r, "MARGINAL")
    i, j = np.unravel_index(np.argmax(np.where(finite, np.abs(got - ref), -1.0)), ref.shape)
    return Verdict(r, "FAIL", f"residual {r:.3g} x eps*K, worst at ({i}, {j}): got {got[i, j]}, expected {ref[i, j]}")


# Shapes that exercise every fringe of any block configuration: 1, primes, and sizes just
# past typical multiples of MR, NR and the cache blocks.
FRINGE_SHAPES = ((1, 1, 1), (1, 37, 5), (29, 1, 17), (13, 11, 1), (67, 131, 263), (97, 53, 301))


def verify_kernel(kernel, m: int, n: int, k: int, dtype: str, threads: int | None = None,
                  seed: int = 0, fringes: bool = True) -> Verdict:
    """Run ``kernel`` on the problem's shape (and the fringe shapes) with NaN-poisoned C.

    Returns the first failing Verdict, else the worst passing one.
    """
    rng = np.random.default_rng(seed)
    shapes = [(m, n, k)] + (list(FRINGE_SHAPES) if fringes else [])
    worst = Verdict(0.0, "PASS")
    for (mm, nn, kk) in shapes:
        A = rng.standard_normal((mm, kk)).astype(dtype)
        B = rng.standard_normal((kk, nn)).astype(dtype)
        C = np.full((mm, nn), np.nan, dtype=dtype)  # poison: an unwritten element shows as NaN
        kernel(A, B, C, alpha=1.0, beta=0.0, threads=threads)
        v = check(C, A, B)
        if not v.ok:
            return Verdict(v.residual, v.status, f"{mm}x{nn}x{kk}: {v.reason}")
        if v.residual > worst.residual:
            worst = v
    return worst
