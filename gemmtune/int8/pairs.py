"""The 8-bit dtype pairs, their value ranges, zero points and the int32 overflow rule."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

# A's dtype then B's: "u8s8" is A uint8, B int8 (the pair VNNI multiplies natively).
DTYPE_PAIRS = ("u8s8", "s8s8", "u8u8", "s8u8")
_CODES = {"uint8": "u8", "int8": "s8"}
_DTYPES = {"u8": np.dtype(np.uint8), "s8": np.dtype(np.int8)}
INT32_MAX = 2**31 - 1


_BY_DTYPE = {np.dtype(np.uint8): "u8", np.dtype(np.int8): "s8"}


def _code(dtype: Any, name: str) -> str:
    code = _BY_DTYPE.get(dtype) if isinstance(dtype, np.dtype) else None
    if code is not None:
        return code  # the common case, without numpy's dtype-name machinery
    try:
        return _CODES[np.dtype(dtype).name]
    except (TypeError, KeyError):
        raise TypeError(f"{name} has dtype {dtype}; integer matmul takes uint8 or int8.") from None


def normalize_pair(a_dtype: Any, b_dtype: Any | None = None) -> str:
    """The pair name for A's and B's dtypes, e.g. (np.uint8, np.int8) -> "u8s8".

    A pair name is also accepted as the only argument ("u8s8" -> "u8s8").

    Raises:
        TypeError: a dtype is not uint8 or int8.
        ValueError: a pair name is not one of DTYPE_PAIRS.
    """
    if b_dtype is None:
        if isinstance(a_dtype, str) and a_dtype in DTYPE_PAIRS:
            return a_dtype
        raise ValueError(f"unknown integer dtype pair {a_dtype!r}: use one of {', '.join(DTYPE_PAIRS)}.")
    return _code(a_dtype, "A") + _code(b_dtype, "B")


def pair_dtypes(pair: str) -> tuple[np.dtype, np.dtype]:
    """(A's dtype, B's dtype) of a pair name."""
    pair = normalize_pair(pair)
    return _DTYPES[pair[:2]], _DTYPES[pair[2:]]


def value_range(dtype: np.dtype) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _max_abs_shifted(dtype: np.dtype, zero_point: Any) -> int:
    """The largest |x - zp| over every x of ``dtype`` and every zero point given."""
    lo, hi = value_range(dtype)
    if zero_point is None:
        return max(-lo, hi)
    z = np.asarray(zero_point, dtype=np.int64)
    if z.size == 0:
        return max(-lo, hi)
    return int(max(hi - z.min(), z.max() - lo))


@lru_cache(maxsize=None)
def _max_k_plain(pair: str) -> int:
    a_dt, b_dt = pair_dtypes(pair)
    return INT32_MAX // (_max_abs_shifted(a_dt, None) * _max_abs_shifted(b_dt, None))


def max_k(pair: str, a_zero_point: Any = None, b_zero_point: Any = None) -> int:
    """The largest K for which no (A - a_zp) @ (B - b_zp) of this pair can leave int32.

    Each product is at most max|A - a_zp| * max|B - b_zp| in magnitude, so K times that
    must stay within 2**31 - 1: u8s8 gives 65793, s8s8 131071, u8u8 33025, s8u8 65793
    without zero points. The kernels compute in wrapping 32-bit arithmetic, which is exact
    whenever the true result fits in int32, so this bound is the only condition.
    """
    if a_zero_point is None and b_zero_point is None:
        return _max_k_plain(normalize_pair(pair))
    a_dt, b_dt = pair_dtypes(pair)
    worst = _max_abs_shifted(a_dt, a_zero_point) * _max_abs_shifted(b_dt, b_zero_point)
    return INT32_MAX // max(worst, 1)


F32_EXACT = 2**24   # float32 holds every integer of magnitude up to 2**24, and not 2**24 + 1


@lru_cache(maxsize=None)
def f32_exact_k(pair: str) -> int:
    """The largest K for which float32 arithmetic on the pair's values is exact for every input.

    A numpy user casts A and B to float32 to reach BLAS. Each product is at most
    max|A| * max|B| in magnitude and every partial sum of K of them (in any order, as BLAS
    adds them) at most K times that; while that stays within 2**24 every intermediate is an
    integer float32 holds exactly, so the float32 product equals the integer one. Beyond it a
    sum may round. u8s8 gives 514, s8s8 1024, u8u8 258, s8u8 514.
    """
    a_dt, b_dt = pair_dtypes(pair)
    return F32_EXACT // (_max_abs_shifted(a_dt, None) * _max_abs_shifted(b_dt, None))
