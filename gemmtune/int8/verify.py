"""Exact verification of an integer kernel: every element equal to an exact reference.

The reference is float64 BLAS on the integer values: every partial sum of an 8-bit product
within max_k is an integer below 2**53 in magnitude, so float64 represents it exactly and
the product is exact (and fast, unlike numpy's integer matmul). C is poisoned with a
sentinel first, so an element the kernel never wrote shows up.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..kernels.reference import FRINGE_SHAPES, Verdict
from .pairs import pair_dtypes, value_range

SENTINEL = np.int32(-0x5EEDBEE)


def exact_reference(A: np.ndarray, B: np.ndarray, a_zero_point: Any = None, b_zero_point: Any = None,
                    C0: np.ndarray | None = None) -> np.ndarray:
    """(A - a_zp) @ (B - b_zp) (+ C0), exactly, as int64."""
    za = np.zeros(A.shape[0]) if a_zero_point is None else np.asarray(a_zero_point, dtype=np.float64)
    zb = np.zeros(B.shape[1]) if b_zero_point is None else np.asarray(b_zero_point, dtype=np.float64)
    a = A.astype(np.float64) - np.reshape(za, (-1, 1) if np.ndim(za) else ())
    b = B.astype(np.float64) - np.reshape(zb, (1, -1) if np.ndim(zb) else ())
    ref = (a @ b).astype(np.int64)
    if C0 is not None:
        ref = (ref + C0.astype(np.int64)).astype(np.int32).astype(np.int64)  # int32 wraps
    return ref


def random_operand(rng: np.random.Generator, shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    """Uniform values over the dtype's whole range, with its extremes planted."""
    lo, hi = value_range(dtype)
    x = rng.integers(lo, hi + 1, size=shape).astype(dtype)
    if x.size:
        x.flat[0] = lo
        x.flat[-1] = hi
    return x


def compare(C: np.ndarray, ref: np.ndarray, what: str) -> Verdict:
    """Verdict of exact equality between C and ref."""
    if C.shape != ref.shape:
        return Verdict(float("inf"), "FAIL", f"{what}: result has shape {C.shape}, expected {ref.shape}")
    bad = C.astype(np.int64) != ref
    if bad.any():
        i, j = np.argwhere(bad)[0]
        return Verdict(float("inf"), "FAIL",
                       f"{what}: {int(bad.sum())} wrong elements, first at ({i}, {j}): got {C[i, j]}, "
                       f"expected {ref[i, j]}")
    return Verdict(0.0, "PASS")


def verify_int8(kernel: Any, m: int, n: int, k: int, pair: str, threads: int | None = None,
                seed: int = 0, fringes: bool = True) -> Verdict:
    """Run ``kernel`` on the problem's shape and the fringe shapes, checking every element.

    Each shape runs without zero points and with vector zero points (the fringe shapes also
    with scalar ones and once accumulating onto C, beta=1), on full-range random values, with
    C poisoned first.

    Returns:
        the first failing Verdict, else a PASS with residual 0.
    """
    rng = np.random.default_rng(seed)
    a_dt, b_dt = pair_dtypes(pair)
    shapes = [(m, n, k, False)] + ([(*s, True) for s in FRINGE_SHAPES] if fringes else [])
    for mm, nn, kk, fringe in shapes:
        A = random_operand(rng, (mm, kk), a_dt)
        B = random_operand(rng, (kk, nn), b_dt)
        cases: list[tuple[Any, Any, int]] = [(None, None, 0)]
        if fringe:
            cases.append((random_operand(rng, (1, 1), a_dt)[0, 0], random_operand(rng, (1, 1), b_dt)[0, 0], 1))
        cases.append((random_operand(rng, (1, mm), a_dt)[0], random_operand(rng, (1, nn), b_dt)[0], 0))
        for za, zb, beta in cases:
            what = f"{mm}x{nn}x{kk} {pair}" + ("" if za is None else (
                " scalar zero points" if np.ndim(za) == 0 else " vector zero points")) + (" beta=1" if beta else "")
            if beta:
                C = rng.integers(-(2**20), 2**20, size=(mm, nn)).astype(np.int32)
                C0 = C.copy()
            else:
                C = np.full((mm, nn), SENTINEL, dtype=np.int32)
                C0 = None
            kernel(A, B, C, beta=beta, a_zero_point=za, b_zero_point=zb, threads=threads)
            v = compare(C, exact_reference(A, B, za, zb, C0), what)
            if not v.ok:
                return v
    return Verdict(0.0, "PASS")
