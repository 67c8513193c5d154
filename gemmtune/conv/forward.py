"""conv2d: the forward pass as im2col + tuned GEMM (see ``plan.py`` for the orientation)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .inputs import check_bias, conv_spec, resolve_threads
from .plan import ConvPlan, conv2d_plan


def conv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None, *, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1, layout: str = "NCHW",
           threads: int | None = None, cache_dir: str | os.PathLike | None = None) -> np.ndarray:
    """2-D cross-correlation with torch's conv2d semantics, through ``gemmtune.matmul``.

    Args:
        x: (N, C, H, W) for "NCHW" or (N, H, W, C) for "NHWC"; float32 or float64, any strides.
        w: (K, C/groups, R, S), the same dtype.
        bias: optional (K,) added to every output pixel.
        stride, padding, dilation: an int or a pair (height, width); zero padding.
        groups: channel groups (groups = C is depthwise).
        layout: "NCHW" or "NHWC", for x and the result alike.
        threads: threads for the GEMMs and im2col; default the usable cores.
        cache_dir: the gemmtune cache dir whose tunings the GEMMs use.

    Returns:
        A new C-contiguous (N, K, P, Q) or (N, P, Q, K) array.

    Raises:
        TypeError, ValueError: bad arrays or geometry, with one sentence.
    """
    spec = conv_spec(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups,
                     layout=layout)
    bias = check_bias(bias, spec, x.dtype)
    threads = resolve_threads(threads)
    plan = conv2d_plan(spec, x.dtype)
    y = np.empty(spec.output_shape(), dtype=x.dtype)
    beta = 0.0
    if bias is not None:
        # The GEMMs add into the bias (beta = 1) instead of a second pass over y.
        y[...] = bias[:, None, None] if spec.layout == "NCHW" else bias
        beta = 1.0
    run = _forward_nchw if spec.layout == "NCHW" else _forward_nhwc
    run(plan, np.ascontiguousarray(x), np.ascontiguousarray(w), y, beta, threads, cache_dir)
    return y


def group_matmul(a, b, out=None, *, beta: float = 0.0, threads=None, cache_dir=None):
    """``a @ b`` for stacks of one product per group: (G, m, k) @ (G, k, n) -> (G, m, n).

    One group is the plain 2-D ``matmul`` (the tuned kernel of that shape); more are one
    stacked call (``gemmtune/stacks.py``) instead of a Python loop of G calls, each of which
    costs its fixed overhead. Operands and ``out`` are views with unit-stride rows, which
    neither path copies.
    """
    from ..api import matmul

    if a.shape[0] == 1:
        c = matmul(a[0], b[0], None if out is None else out[0], beta=beta, threads=threads,
                   cache_dir=cache_dir)
        return c[None] if out is None else out
    return matmul(a, b, out, beta=beta, threads=threads, cache_dir=cache_dir)


def _forward_nchw(plan: ConvPlan, x, w, y, beta, threads, cache_dir) -> None:
    from .im2col import im2col, numba_threads

    sp = plan.spec
    P, Q = sp.output_hw()
    G = sp.groups
    Kg = sp.k // G
    taps = sp.c // G * sp.r * sp.s
    wm = w.reshape(G, Kg, taps)
    yv = y.reshape(sp.n, G, Kg, P * Q)
    buf = np.empty(plan.buffer_bytes // x.itemsize, dtype=x.dtype)
    for t0, t1 in plan.chunks:
        L = (t1 - t0) * Q
        if plan.lowering == "gemm":
            col = x[t0 // P].reshape(G, taps, L)  # one image: x[n] is the im2col matrix
        else:
            col = buf[:sp.c * sp.r * sp.s * L].reshape(G, taps, L)
            with numba_threads(threads):
                im2col(x, col.reshape(G * taps, L), "NCHW", t0, t1, P, Q, sp.r, sp.s,
                       sp.stride, sp.padding, sp.dilation, G)
        segments = plan.segments(t0, t1)
        if len(segments) == 1:
            n, p0, p1 = segments[0]
            group_matmul(wm, col, yv[n, :, :, p0 * Q:p1 * Q], beta=beta, threads=threads,
                         cache_dir=cache_dir)
            continue
        # Several (whole) images: one wide GEMM, then a copy of contiguous P*Q runs
        # into y; the copy is K*L elements against the GEMM's K*L*C*R*S multiply-adds.
        tmp = group_matmul(wm, col, threads=threads, cache_dir=cache_dir)
        n0, images = t0 // P, (t1 - t0) // P
        src = tmp.reshape(G, Kg, images, P * Q).transpose(2, 0, 1, 3)
        dst = yv[n0:n0 + images]
        if beta:
            dst += src
        else:
            dst[...] = src


def filters_rsc_k(w: np.ndarray, groups: int) -> np.ndarray:
    """w (K, Cg, R, S) as (groups, R*S*Cg, Kg): group g's filters as the NHWC GEMM's B."""
    K, Cg, R, S = w.shape
    Kg = K // groups
    return np.ascontiguousarray(
        w.reshape(groups, Kg, Cg, R, S).transpose(0, 3, 4, 2, 1)).reshape(groups, R * S * Cg, Kg)


def _forward_nhwc(plan: ConvPlan, x, w, y, beta, threads, cache_dir) -> None:
    from .im2col import im2col, numba_threads

    sp = plan.spec
    P, Q = sp.output_hw()
    G = sp.groups
    Kg = sp.k // G
    taps = sp.c // G * sp.r * sp.s
    wr = filters_rsc_k(w, G)
    y2 = y.reshape(sp.n * P * Q, G, Kg)
    buf = np.empty(plan.buffer_bytes // x.itemsize, dtype=x.dtype)
    for t0, t1 in plan.chunks:
        L = (t1 - t0) * Q
        if plan.lowering == "gemm":
            col = x.reshape(sp.n * sp.h * sp.w, sp.c)[t0 * Q:t1 * Q]  # x itself, no copy
        else:
            col = buf[:L * sp.c * sp.r * sp.s].reshape(L, sp.c * sp.r * sp.s)
            with numba_threads(threads):
                im2col(x, col, "NHWC", t0, t1, P, Q, sp.r, sp.s, sp.stride, sp.padding,
                       sp.dilation, G)
        # Group g's columns of col and of y, as (G, rows, columns) views.
        group_matmul(col.reshape(L, G, taps).transpose(1, 0, 2), wr,
                     y2[t0 * Q:t1 * Q].transpose(1, 0, 2), beta=beta, threads=threads,
                     cache_dir=cache_dir)
