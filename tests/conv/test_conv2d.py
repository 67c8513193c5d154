"""conv2d and conv2d_backward against the float64 direct-loop oracle.

Every buffer the lowering allocates with ``np.empty`` (outputs, the im2col matrix, the
transposed gradient) is poisoned with NaN, so an element the code forgets to write fails.
"""

from __future__ import annotations

import types
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import gemmtune
from gemmtune.conv import ConvSpec, conv2d_plan
from gemmtune.conv.reference import check_conv, conv2d_backward_ref, conv2d_ref

from tests.conftest import examples
from .conftest import amax, assert_forward, assert_pass, conv_kwargs, conv_specs, random_inputs

HYPOTHESIS = settings(max_examples=examples(25), deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def poisoned(monkeypatch):
    """np.empty returns NaN-filled arrays inside the forward and backward modules."""
    from gemmtune.conv import backward, forward

    def empty(shape, dtype=float, **kwargs):
        return np.full(shape, np.nan, dtype=dtype)


    shim = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    shim.empty = empty
    monkeypatch.setattr(forward, "np", shim)
    monkeypatch.setattr(backward, "np", shim)


def assert_backward(got, x, w, gy, spec):
    gx, gw, gb = got
    rx, rw, rb = conv2d_backward_ref(x, w, gy, spec)
    P, Q = spec.output_hw()
    assert gx.shape == x.shape and gw.shape == w.shape and gb.shape == (spec.k,)
    assert gx.dtype == gw.dtype == gb.dtype == x.dtype
    assert_pass(check_conv(gx, rx, amax(gy), amax(w), spec.k // spec.groups * spec.r * spec.s),
                f"grad_x {spec.label()}")
    assert_pass(check_conv(gw, rw, amax(gy), amax(x), spec.n * P * Q), f"grad_w {spec.label()}")
    assert_pass(check_conv(gb, rb, amax(gy), 1.0, spec.n * P * Q), f"grad_b {spec.label()}")


@HYPOTHESIS
@given(conv_specs(), st.sampled_from(["float32", "float64"]), st.booleans(), st.booleans(),
       st.integers(1, 2))
def test_forward_matches_the_oracle(poisoned, conv_cache, spec, dtype, contiguous, with_bias, threads):
    rng = np.random.default_rng(spec.n + spec.c * 7)
    x, w, _ = random_inputs(spec, dtype, rng, contiguous)
    bias = rng.standard_normal(spec.k).astype(dtype) if with_bias else None
    y = gemmtune.conv2d(x, w, bias, **conv_kwargs(spec), threads=threads, cache_dir=conv_cache)
    assert y.shape == spec.output_shape() and y.dtype == x.dtype and y.flags.c_contiguous
    assert_forward(y, conv2d_ref(x, w, spec, bias), x, w, spec)


@HYPOTHESIS
@given(conv_specs(), st.sampled_from(["float32", "float64"]), st.booleans(), st.integers(1, 2))
def test_backward_matches_the_oracle(poisoned, conv_cache, spec, dtype, contiguous, threads):
    rng = np.random.default_rng(spec.k + spec.h * 5)
    x, w, gy = random_inputs(spec, dtype, rng, contiguous)
    got = gemmtune.conv2d_backward(x, w, gy, **conv_kwargs(spec), threads=threads, cache_dir=conv_cache)
    assert_backward(got, x, w, gy, spec)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_chunked_batch_matches_the_oracle(poisoned, conv_cache, layout, monkeypatch):
    # A buffer of 7 output rows: chunks cut images in parts and carry grad_w across chunks.
    from gemmtune.conv import plan as plan_module

    spec = ConvSpec.parse("3,4,9,8,6,3,3,1,1,1,2", layout=layout)
    row = spec.c * spec.r * spec.s * spec.output_hw()[1] * 4
    monkeypatch.setattr(plan_module, "BUFFER_LIMIT", 7 * row)
    assert len(conv2d_plan(spec, "float32").chunks) > 3
    rng = np.random.default_rng(3)
    x, w, gy = random_inputs(spec, "float32", rng)
    y = gemmtune.conv2d(x, w, **conv_kwargs(spec), cache_dir=conv_cache)
    assert_forward(y, conv2d_ref(x, w, spec), x, w, spec)
    assert_backward(gemmtune.conv2d_backward(x, w, gy, **conv_kwargs(spec), cache_dir=conv_cache),
                    x, w, gy, spec)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("text", ["2,6,5,7,4,3,3,2,1", "2,8,6,5,4,1,1", "1,6,7,7,6,3,3,1,1,1,6",
                                  "2,2,6,5,8,1,1", "2,4,6,5,12,1,1,2,0,1,2"])
def test_matmul_runs_exactly_the_planned_gemms(conv_cache, monkeypatch, layout, text):
    # What the tuner tunes (ConvSpec.gemms) is what conv2d and conv2d_backward run.
    from gemmtune import api

    spec = ConvSpec.parse(text, layout=layout)
    ran: Counter = Counter()
    real = api.matmul

    def spy(A, B, out=None, **kwargs):
        # (m, n, k, products in the stack): the groups are one stacked call.
        ran[(A.shape[-2], B.shape[-1], A.shape[-1], A.shape[0] if A.ndim == 3 else 1)] += 1
        return real(A, B, out, **kwargs)

    monkeypatch.setattr(api, "matmul", spy)
    x, w, gy = random_inputs(spec, "float32", np.random.default_rng(0))
    gemmtune.conv2d(x, w, **conv_kwargs(spec), cache_dir=conv_cache)
    assert ran == Counter({(g.m, g.n, g.k, g.batch): g.count for g in spec.gemms("forward")})
    ran.clear()
    gemmtune.conv2d_backward(x, w, gy, **conv_kwargs(spec), cache_dir=conv_cache)
    want: Counter = Counter()
    for direction in ("backward_data", "backward_weight"):
        for g in spec.gemms(direction):
            want[(g.m, g.n, g.k, g.batch)] += g.count
    assert ran == want


def test_nan_and_inf_propagate(conv_cache):
    spec = ConvSpec.parse("1,2,4,4,3,3,3,1,1")
    x = np.ones(spec.input_shape(), np.float32)
    x[0, 0, 0, 0] = np.nan
    w = np.ones(spec.weight_shape(), np.float32)
    y = gemmtune.conv2d(x, w, padding=1, cache_dir=conv_cache)
    # Only the outputs whose window covers pixel (0, 0) see the NaN.
    assert np.isnan(y[0, :, :2, :2]).all() and not np.isnan(y[0, :, 2:, :]).any()


def test_two_threads_at_once_match_the_oracle(conv_cache):
    # Grouped layers run stacked matmul calls; both threads start with their first one.
    import threading

    specs = [ConvSpec.parse("2,6,9,9,4,3,3,1,1,1,2"), ConvSpec.parse("1,3,5,6,3,3,3,2,1,1,3"),
             ConvSpec.parse("1,4,7,7,4,3,3,1,1,1,2", layout="NHWC")]
    rng = np.random.default_rng(5)
    cases = [(spec, *random_inputs(spec, "float32", rng)) for spec in specs]
    failures: list[str] = []
    start = threading.Barrier(2)

    def run():
        try:
            start.wait()
            for spec, x, w, gy in cases:
                y = gemmtune.conv2d(x, w, **conv_kwargs(spec), threads=1, cache_dir=conv_cache)
                assert_forward(y, conv2d_ref(x, w, spec), x, w, spec)
                got = gemmtune.conv2d_backward(x, w, gy, **conv_kwargs(spec), threads=1,
                                               cache_dir=conv_cache)
                assert_backward(got, x, w, gy, spec)
        except Exception as e:  # pragma: no cover - reported below
            failures.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures


@st.composite
def grouped_specs(draw) -> ConvSpec:
    """Layers of 2-8 groups (depthwise included), the stacked-call path, any stride and dilation."""
    groups = draw(st.integers(2, 8))
    depthwise = draw(st.booleans())
    cg, kg = (1, draw(st.sampled_from([1, 2]))) if depthwise else (draw(st.integers(1, 3)),
                                                                  draw(st.integers(1, 3)))
    r, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, dilation = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    padding = draw(st.integers(0, 1))
    h = draw(st.integers(max(1, dilation * (r - 1) + 1 - 2 * padding), 8))
    w = draw(st.integers(max(1, dilation * (s - 1) + 1 - 2 * padding), 8))
    return ConvSpec(draw(st.integers(1, 2)), cg * groups, h, w, kg * groups, r, s, stride, padding,
                    dilation, groups, draw(st.sampled_from(["NCHW", "NHWC"])))


# Few examples: each new stacked shape compiles a batched kernel cut to it (stacks.py).
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(grouped_specs(), st.booleans())
def test_grouped_and_depthwise_layers_match_the_oracle(poisoned, conv_cache, spec, with_bias):
    rng = np.random.default_rng(spec.groups + spec.h)
    x, w, gy = random_inputs(spec, "float32", rng)
    bias = rng.standard_normal(spec.k).astype("float32") if with_bias else None
    y = gemmtune.conv2d(x, w, bias, **conv_kwargs(spec), threads=1, cache_dir=conv_cache)
    assert_forward(y, conv2d_ref(x, w, spec, bias), x, w, spec)
    got = gemmtune.conv2d_backward(x, w, gy, **conv_kwargs(spec), threads=1, cache_dir=conv_cache)
    assert_backward(got, x, w, gy, spec)
