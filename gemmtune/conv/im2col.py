"""im2col and col2im: the copies that turn a convolution into a GEMM and back.

Two matrix layouts, one per data layout, so that every copy reads and writes along the
contiguous axis:

- "kp" (NCHW, Caffe's im2col): ``col[(c, r, s), (t, q)]`` where t = n*P + p runs over output
  rows. Rows are filter taps, columns output pixels; a group's rows are one contiguous block.
- "pk" (NHWC): ``col[(t, q), (g, r, s, cg)]``. Rows are output pixels, columns filter taps
  with the channel innermost, as in the input; a group's columns are one contiguous block.

Both lower only the output rows ``t0 <= t < t1`` of the flattened (n, p) index, so a large
batch is processed in chunks through a bounded buffer. The kernels are plain loops: they are
memory-bound, and the GEMM around them is where the time goes. col2im accumulates (``+=``)
every window that covers an input pixel, so chunks and overlapping windows add up.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

import numba
import numpy as np
from numba import njit, prange, uint64

_threads_lock = threading.Lock()


@contextmanager
def numba_threads(threads: int | None) -> Iterator[None]:
    """Run the parallel kernels on ``threads`` threads, restoring the caller's setting."""
    if threads is None:
        yield
        return
    if not 1 <= threads <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"threads={threads} is outside 1..{numba.config.NUMBA_NUM_THREADS}, "
                         "the threads numba can use on this machine.")
    # numba's thread count is per calling thread; the lock keeps two callers from
    # restoring each other's values out of order.
    with _threads_lock:
        before = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            yield
        finally:
            numba.set_num_threads(before)


@njit(cache=True, inline="always")
def _q_range(off: int, sw: int, width: int, q_count: int) -> tuple[int, int]:
    """Output columns q with 0 <= q*sw + off < width: [lo, hi)."""
    lo = max(0, -(off // sw))          # ceil(-off / sw)
    hi = min(q_count, -((off - width) // sw))  # ceil((width - off) / sw)
    return lo, max(lo, hi)


# How the copies index (measured in docs/performance.md, section 22): through flat views of
# x and of the matrix made once per call, with unsigned element offsets. A run is short (Q
# = 7-112 elements, or C/groups channels), and the earlier code made 1-D views per run
# (x[n, c, h], slices of a row), each with its bookkeeping (the parent's reference count
# incremented and decremented), and indexed with signed offsets, which numba checks for
# wrap-around: the copies cost about 20 ns a run whatever its length, 2.4-2.8x the time
# they take now. An unsigned index skips that check, so LLVM vectorises the copy loops;
# every offset here is non-negative by construction (_q_range keeps q*sw + off in the row).


@njit(cache=True, parallel=True)
def im2col_kp(x, col, t0, t1, P, Q, R, S, sh, sw, ph, pw, dh, dw):  # pragma: no cover - numba
    """col[(c*R + r)*S + s, (t - t0)*Q + q] = x[n, c, p*sh - ph + r*dh, q*sw - pw + s*dw]."""
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    L = col.shape[1]
    xf = x.reshape(-1)
    cf = col.reshape(-1)
    for row in prange(C * R * S):
        c = row // (R * S)
        r = (row // S) % R
        s = row % S
        off = s * dw - pw
        lo, hi = _q_range(off, sw, W, Q)
        for t in range(t0, t1):
            n = t // P
            p = t - n * P
            h = p * sh - ph + r * dh
            d = uint64(row * L + (t - t0) * Q)
            if h < 0 or h >= H:
                for q in range(Q):
                    cf[d + uint64(q)] = 0
                continue
            xrow = ((n * C + c) * H + h) * W
            for q in range(lo):
                cf[d + uint64(q)] = 0
            if sw == 1:
                src = uint64(xrow + lo + off)
                dst = d + uint64(lo)
                for i in range(hi - lo):
                    cf[dst + uint64(i)] = xf[src + uint64(i)]
            elif sw == 2:
                # A constant stride lets LLVM vectorize the gather with shuffles: 1.8x
                # faster than the runtime stride on ResNet-50's stride-2 3x3 layer.
                for q in range(lo, hi):
                    cf[d + uint64(q)] = xf[uint64(xrow + 2 * q + off)]
            else:
                for q in range(lo, hi):
                    cf[d + uint64(q)] = xf[uint64(xrow + q * sw + off)]
            for q in range(hi, Q):
                cf[d + uint64(q)] = 0


@njit(cache=True, parallel=True)
def im2col_pk(x, col, t0, t1, P, Q, R, S, sh, sw, ph, pw, dh, dw, groups):  # pragma: no cover
    """col[(t - t0)*Q + q, ((g*R + r)*S + s)*Cg + cg] = x[n, h, w, g*Cg + cg]."""
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    Cg = C // groups
    K = col.shape[1]
    xf = x.reshape(-1)
    cf = col.reshape(-1)
    for t in prange(t0, t1):
        n = t // P
        p = t - n * P
        for q in range(Q):
            row = (t - t0) * Q + q
            for g in range(groups):
                for r in range(R):
                    h = p * sh - ph + r * dh
                    for s in range(S):
                        w = q * sw - pw + s * dw
                        d = uint64(row * K + ((g * R + r) * S + s) * Cg)
                        if h < 0 or h >= H or w < 0 or w >= W:
                            for i in range(Cg):
                                cf[d + uint64(i)] = 0
                        else:
                            src = uint64(((n * H + h) * W + w) * C + g * Cg)
                            for i in range(Cg):
                                cf[d + uint64(i)] = xf[src + uint64(i)]


@njit(cache=True, parallel=True)
def col2im_kp(col, dx, t0, t1, P, Q, R, S, sh, sw, ph, pw, dh, dw):  # pragma: no cover - numba
    """dx[n, c, h, w] += col[(c*R + r)*S + s, (t - t0)*Q + q] over every window covering (h, w).

    One channel per iteration: a channel's taps write only that channel, so the parallel
    loop has no races.
    """
    C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
    L = col.shape[1]
    cf = col.reshape(-1)
    dxf = dx.reshape(-1)
    for c in prange(C):
        for r in range(R):
            for s in range(S):
                row = (c * R + r) * S + s
                off = s * dw - pw
                lo, hi = _q_range(off, sw, W, Q)
                for t in range(t0, t1):
                    n = t // P
                    p = t - n * P
                    h = p * sh - ph + r * dh
                    if h < 0 or h >= H:
                        continue
                    d = uint64(row * L + (t - t0) * Q)
                    xrow = ((n * C + c) * H + h) * W
                    if sw == 1:
                        dst = uint64(xrow + lo + off)
                        src = d + uint64(lo)
                        for i in range(hi - lo):
                            dxf[dst + uint64(i)] += cf[src + uint64(i)]
                    elif sw == 2:
                        for q in range(lo, hi):
                            dxf[uint64(xrow + 2 * q + off)] += cf[d + uint64(q)]
                    else:
                        for q in range(lo, hi):
                            dxf[uint64(xrow + q * sw + off)] += cf[d + uint64(q)]


@njit(cache=True, parallel=True)
def col2im_pk(col, dx, t0, t1, P, Q, R, S, sh, sw, ph, pw, dh, dw, groups):  # pragma: no cover
    """dx[n, h, w, g*Cg + cg] += col[(t - t0)*Q + q, ((g*R + r)*S + s)*Cg + cg] over every window.

    Gathers per input row (n, h): each row is written by one iteration only, so the parallel
    loop has no races however the windows overlap.
    """
    H, W, C = dx.shape[1], dx.shape[2], dx.shape[3]
    Cg = C // groups
    K = col.shape[1]
    cf = col.reshape(-1)
    dxf = dx.reshape(-1)
    n_lo = t0 // P
    n_hi = (t1 - 1) // P + 1
    for nh in prange((n_hi - n_lo) * H):
        n = n_lo + nh // H
        h = nh % H
        for r in range(R):
            num = h + ph - r * dh
            if num % sh != 0:
                continue
            p = num // sh
            t = n * P + p
            if p < 0 or p >= P or t < t0 or t >= t1:
                continue
            for s in range(S):
                off = s * dw - pw
                lo, hi = _q_range(off, sw, W, Q)
                for q in range(lo, hi):
                    w = q * sw + off
                    row = (t - t0) * Q + q
                    for g in range(groups):
                        src = uint64(row * K + ((g * R + r) * S + s) * Cg)
                        dst = uint64(((n * H + h) * W + w) * C + g * Cg)
                        for i in range(Cg):
                            dxf[dst + uint64(i)] += cf[src + uint64(i)]


def _check_contiguous(**arrays: np.ndarray) -> None:
    # The kernels index flat views (reshape(-1)), which numba makes only of contiguous arrays.
    for name, a in arrays.items():
        if not a.flags.c_contiguous:
            raise ValueError(f"{name} must be C-contiguous.")


def im2col(x: np.ndarray, col: np.ndarray, layout: str, t0: int, t1: int, P: int, Q: int,
           R: int, S: int, stride: tuple[int, int], padding: tuple[int, int],
           dilation: tuple[int, int], groups: int) -> None:
    """Fill ``col`` with the windows of output rows [t0, t1) of C-contiguous ``x`` (see module doc)."""
    _check_contiguous(x=x, col=col)
    args = (t0, t1, P, Q, R, S, *stride, *padding, *dilation)
    if layout == "NCHW":
        im2col_kp(x, col, *args)
    else:
        im2col_pk(x, col, *args, groups)


def col2im(col: np.ndarray, dx: np.ndarray, layout: str, t0: int, t1: int, P: int, Q: int,
           R: int, S: int, stride: tuple[int, int], padding: tuple[int, int],
           dilation: tuple[int, int], groups: int) -> None:
    """Add the windows in ``col`` (output rows [t0, t1)) into C-contiguous ``dx``."""
    _check_contiguous(col=col, dx=dx)
    args = (t0, t1, P, Q, R, S, *stride, *padding, *dilation)
    if layout == "NCHW":
        col2im_kp(col, dx, *args)
    else:
        col2im_pk(col, dx, *args, groups)
