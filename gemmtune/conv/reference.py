"""The oracle: convolution by its definition in float64, and the residual check.

Direct loops over the filter taps (r, s); each tap is one strided slice of the zero-padded
input, multiplied by that tap's weights. Nothing is shared with the im2col/GEMM path, so
the two cannot be wrong the same way. Slow (fine for the small shapes of the tests).

The check is the GEMM one (``gemmtune.kernels.reference``) with K replaced by the length of
the sums: C/groups*R*S for y, K/groups*R*S for grad_x (at most), N*P*Q for grad_w and grad_b.
"""

from __future__ import annotations

import numpy as np

from ..kernels.reference import MARGINAL_THRESHOLD, PASS_THRESHOLD, Verdict
from .spec import ConvSpec


def _nchw(a: np.ndarray, layout: str) -> np.ndarray:
    return np.asarray(a, dtype=np.float64) if layout == "NCHW" else np.asarray(a, np.float64).transpose(0, 3, 1, 2)


def _windows(spec: ConvSpec, r: int, s: int) -> tuple[slice, slice]:
    """The rows and columns of the padded input that tap (r, s) reads for every output pixel."""
    P, Q = spec.output_hw()
    (sh, sw), (dh, dw) = spec.stride, spec.dilation
    return (slice(r * dh, r * dh + (P - 1) * sh + 1, sh), slice(s * dw, s * dw + (Q - 1) * sw + 1, sw))


def conv2d_ref(x: np.ndarray, w: np.ndarray, spec: ConvSpec, bias: np.ndarray | None = None) -> np.ndarray:
    """y[n, k, p, q] = sum_{c, r, s} xpad[n, g*Cg + c, p*sh + r*dh, q*sw + s*dw] * w[k, c, r, s] (+ bias)."""
    G, Cg, Kg = spec.groups, spec.c // spec.groups, spec.k // spec.groups
    (ph, pw) = spec.padding
    xp = np.pad(_nchw(x, spec.layout), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    w = np.asarray(w, dtype=np.float64)
    P, Q = spec.output_hw()
    y = np.zeros((spec.n, spec.k, P, Q))
    for g in range(G):
        for r in range(spec.r):
            for s in range(spec.s):
                rows, cols = _windows(spec, r, s)
                patch = xp[:, g * Cg:(g + 1) * Cg, rows, cols]           # (N, Cg, P, Q)
                tap = w[g * Kg:(g + 1) * Kg, :, r, s]                     # (Kg, Cg)
                y[:, g * Kg:(g + 1) * Kg] += np.einsum("ncpq,kc->nkpq", patch, tap)
    if bias is not None:
        y += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return y if spec.layout == "NCHW" else y.transpose(0, 2, 3, 1)


def conv2d_backward_ref(x: np.ndarray, w: np.ndarray, grad_y: np.ndarray, spec: ConvSpec,
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grad_x, grad_w, grad_b) in float64, by the same taps run backwards."""
    G, Cg, Kg = spec.groups, spec.c // spec.groups, spec.k // spec.groups
    (ph, pw) = spec.padding
    xp = np.pad(_nchw(x, spec.layout), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    gy = _nchw(grad_y, spec.layout)
    w = np.asarray(w, dtype=np.float64)
    gxp = np.zeros_like(xp)
    gw = np.zeros(w.shape)
    for g in range(G):
        for r in range(spec.r):
            for s in range(spec.s):
                rows, cols = _windows(spec, r, s)
                dy = gy[:, g * Kg:(g + 1) * Kg]                           # (N, Kg, P, Q)
                gxp[:, g * Cg:(g + 1) * Cg, rows, cols] += np.einsum(
                    "nkpq,kc->ncpq", dy, w[g * Kg:(g + 1) * Kg, :, r, s])
                gw[g * Kg:(g + 1) * Kg, :, r, s] = np.einsum(
                    "nkpq,ncpq->kc", dy, xp[:, g * Cg:(g + 1) * Cg, rows, cols])
    gx = gxp[:, :, ph:ph + spec.h, pw:pw + spec.w]
    gb = gy.sum(axis=(0, 2, 3))
    return (gx if spec.layout == "NCHW" else gx.transpose(0, 2, 3, 1)), gw, gb


def check_conv(got: np.ndarray, ref: np.ndarray, a_max: float, b_max: float, terms: int) -> Verdict:
    """Residual of ``got`` against the float64 ``ref``, where each element is a sum of
    ``terms`` products of factors bounded by ``a_max`` and ``b_max``.

    r = max|got - ref| / ((a_max * b_max * terms + max|ref|) * eps); PASS below the GEMM
    check's threshold. NaN where ref has none (an unwritten element of a poisoned output)
    fails outright.
    """
    if got.shape != ref.shape:
        return Verdict(float("inf"), "FAIL", f"result has shape {got.shape}, expected {ref.shape}")
    g = got.astype(np.float64)
    if (np.isnan(g) != np.isnan(ref)).any():
        idx = tuple(int(i) for i in np.argwhere(np.isnan(g) != np.isnan(ref))[0])
        return Verdict(float("inf"), "FAIL", f"NaN mismatch at {idx}: got {g[idx]}, expected {ref[idx]}")
    eps = float(np.finfo(got.dtype).eps)
    err = float(np.max(np.abs(g - ref), initial=0.0))
    scale = (a_max * b_max * max(terms, 1) + float(np.max(np.abs(ref), initial=0.0))) * eps
    r = 0.0 if err == 0.0 else (err / scale if scale > 0 else float("inf"))
    if r < PASS_THRESHOLD:
        return Verdict(r, "PASS")
    if r < MARGINAL_THRESHOLD:
        return Verdict(r, "MARGINAL")
    idx = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(g - ref)), ref.shape))
    return Verdict(r, "FAIL", f"residual {r:.3g} x eps*terms, worst at {idx}: got {g[idx]}, expected {ref[idx]}")
