"""im2col and col2im on their own: every element of a poisoned buffer written, col2im the adjoint."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from gemmtune.conv import ConvSpec, conv2d_plan
from gemmtune.conv.im2col import col2im, im2col, numba_threads

from .conftest import conv_specs


def col_reference(x_nchw: np.ndarray, spec: ConvSpec, t0: int, t1: int) -> np.ndarray:
    """The im2col matrix of output rows [t0, t1), built from padded slices (float64)."""
    P, Q = spec.output_hw()
    (sh, sw), (ph, pw), (dh, dw) = spec.stride, spec.padding, spec.dilation
    G, Cg = spec.groups, spec.c // spec.groups
    xp = np.pad(x_nchw.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    # taps[n, c, r, s, p, q]
    taps = np.empty((spec.n, spec.c, spec.r, spec.s, P, Q))
    for r in range(spec.r):
        for s in range(spec.s):
            taps[:, :, r, s] = xp[:, :, r * dh:r * dh + (P - 1) * sh + 1:sh, s * dw:s * dw + (Q - 1) * sw + 1:sw]
    t = taps.transpose(0, 4, 5, 1, 2, 3).reshape(spec.n * P, Q, spec.c, spec.r, spec.s)[t0:t1]
    if spec.layout == "NCHW":   # rows (c, r, s), columns (t, q)
        return t.transpose(2, 3, 4, 0, 1).reshape(spec.c * spec.r * spec.s, -1)
    # rows (t, q), columns (g, r, s, cg)
    t = t.reshape(t1 - t0, Q, G, Cg, spec.r, spec.s).transpose(0, 1, 2, 4, 5, 3)
    return t.reshape((t1 - t0) * Q, -1)


def _geometry(spec: ConvSpec):
    P, Q = spec.output_hw()
    return (P, Q, spec.r, spec.s, spec.stride, spec.padding, spec.dilation, spec.groups)


def _chunk(spec, data):
    P = spec.output_hw()[0]
    t0 = data.draw(st.integers(0, spec.n * P - 1))
    return t0, data.draw(st.integers(t0 + 1, spec.n * P))


@settings(max_examples=40, deadline=None)
@given(conv_specs(), st.sampled_from(["float32", "float64"]), st.data())
def test_im2col_writes_every_element(spec, dtype, data):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(spec.input_shape()).astype(dtype)
    t0, t1 = _chunk(spec, data)
    ref = col_reference(x if spec.layout == "NCHW" else x.transpose(0, 3, 1, 2), spec, t0, t1)
    col = np.full(ref.shape, np.nan, dtype=dtype)  # poison: an unwritten element stays NaN
    im2col(x, col, spec.layout, t0, t1, *_geometry(spec))
    np.testing.assert_array_equal(col, ref.astype(dtype))


@settings(max_examples=40, deadline=None)
@given(conv_specs(), st.data())
def test_col2im_is_the_adjoint_of_im2col(spec, data):
    # <im2col(x), c> == <x, col2im(c)> for every x and c: col2im adds each column entry
    # into exactly the input element im2col read it from, and drops the padding.
    rng = np.random.default_rng(1)
    t0, t1 = _chunk(spec, data)
    x = rng.standard_normal(spec.input_shape())
    shape = col_reference(np.zeros((spec.n, spec.c, spec.h, spec.w)), spec, t0, t1).shape
    c = rng.standard_normal(shape)
    col = np.empty(shape)
    im2col(x, col, spec.layout, t0, t1, *_geometry(spec))
    start = rng.standard_normal(x.shape)
    dx = start.copy()
    col2im(c, dx, spec.layout, t0, t1, *_geometry(spec))
    assert np.vdot(col, c) == pytest.approx(np.vdot(x, dx - start), rel=1e-9, abs=1e-9)


def test_col2im_accumulates_overlapping_windows():
    # 3x3 windows at stride 1 over a 4x4 input of ones: the centre pixels are read by 9 windows.
    spec = ConvSpec(1, 1, 4, 4, 1, 3, 3, padding=1)
    P, Q = spec.output_hw()
    dx = np.zeros((1, 1, 4, 4))
    col2im(np.ones((9, P * Q)), dx, "NCHW", 0, P, *_geometry(spec))
    np.testing.assert_array_equal(dx[0, 0], [[4, 6, 6, 4], [6, 9, 9, 6], [6, 9, 9, 6], [4, 6, 6, 4]])


def test_threads_are_restored_and_checked():
    import numba

    before = numba.get_num_threads()
    with numba_threads(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with pytest.raises(ValueError, match="threads="):
        with numba_threads(numba.config.NUMBA_NUM_THREADS + 1):
            pass


def test_plan_buffer_matches_the_matrix():
    spec = ConvSpec.parse("2,6,9,9,4,3,3,2,1", layout="NHWC")
    plan = conv2d_plan(spec, "float64")
    t0, t1 = plan.chunks[0]
    assert col_reference(np.zeros((2, 6, 9, 9)), spec, t0, t1).size * 8 == plan.buffer_bytes


def test_a_non_contiguous_matrix_is_refused():
    # The kernels index flat views of their arrays; a strided one gets a sentence, not a
    # numba typing error.
    x = np.zeros((1, 2, 4, 4), np.float32)
    col = np.zeros((2 * 9, 32), np.float32)[:, ::2]
    with pytest.raises(ValueError, match="col must be C-contiguous"):
        im2col(x, col, "NCHW", 0, 4, 4, 4, 3, 3, (1, 1), (1, 1), (1, 1), 1)
    with pytest.raises(ValueError, match="dx must be C-contiguous"):
        col2im(np.zeros((18, 16), np.float32), np.zeros((1, 2, 4, 8), np.float32)[..., ::2],
               "NCHW", 0, 4, 4, 4, 3, 3, (1, 1), (1, 1), (1, 1), 1)
