"""Exact verification of an AMX core before it is timed or cached.

Integers leave no rounding to allow for: a kernel is right when every element equals the
product computed in a wider type. float64 BLAS of the integer inputs is that product while
every |sum| stays below 2^53 (K * 255 * 255 < 2^53 for any K an int32 result can hold).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..kernels.reference import FRINGE_SHAPES, Verdict
from .params import PAIR_DTYPES, normalize_pair

# C is filled with this before a beta-0 run: an element the kernel forgot keeps it.
SENTINEL = np.int32(-0x5A5A5A5B)


def exact_product(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A @ B as int64, exactly."""
    return (A.astype(np.float64) @ B.astype(np.float64)).astype(np.int64)


def random_operands(rng: np.random.Generator, pair: str, m: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """A (m, k) and B (k, n) of the pair's dtypes, uniform over their whole ranges."""
    out = []
    for dt, shape in zip(PAIR_DTYPES[normalize_pair(pair)], ((m, k), (k, n))):
        info = np.iinfo(dt)
        out.append(rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True))
    return out[0], out[1]


def verify_amx(raw: Callable[..., None], pair: str, m: int, n: int, k: int, threads: int = 1,
               seed: int = 0, fringes: bool = True) -> Verdict:
    """Run ``raw(A, B, C, beta, threads)`` on (m, n, k) and the fringe shapes; exact check.

    Each shape runs with beta 0 on a sentinel-filled C (nothing may be read from it, every
    element must be written), then with beta 1 on that result (C += A @ B).

    Returns:
        ``Verdict(0.0, "PASS")``, or the first failure with the shape and the first wrong
        element in ``reason``.
    """
    rng = np.random.default_rng(seed)
    shapes = [(m, n, k)] + (list(FRINGE_SHAPES) if fringes else [])
    for mm, nn, kk in shapes:
        A, B = random_operands(rng, pair, mm, nn, kk)
        want = exact_product(A, B)
        C = np.full((mm, nn), SENTINEL, dtype=np.int32)
        for beta, expected in ((0, want), (1, 2 * want)):
            raw(A, B, C, beta, threads)
            # int32 wraps on overflow; compare modulo 2^32 as the kernel computes.
            bad = C != expected.astype(np.int32)
            if bad.any():
                i, j = np.argwhere(bad)[0]
                return Verdict(float("inf"), "FAIL",
                               f"{mm}x{nn}x{kk} beta={beta}: {int(bad.sum())} of {C.size} elements "
                               f"wrong, first at ({i}, {j}): got {C[i, j]}, expected "
                               f"{np.int32(expected[i, j])}")
    return Verdict(0.0, "PASS")
