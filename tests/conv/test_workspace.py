"""The im2col workspace: reused by the next call of a thread, grown on need, never shared
between threads."""

from __future__ import annotations

import threading

import numpy as np

import gemmtune
from gemmtune.conv import ConvSpec, workspace
from gemmtune.conv.reference import conv2d_backward_ref, conv2d_ref

from .conftest import assert_forward, conv_kwargs, random_inputs


def test_the_buffer_is_reused_grown_and_released():
    workspace.release()
    a = workspace.buffer(400, np.float32)
    assert a.shape == (100,) and a.dtype == np.float32
    b = workspace.buffer(80, np.float64)
    assert b.shape == (10,) and np.shares_memory(a, b)  # the same memory, viewed again
    c = workspace.buffer(4000, np.float32)
    assert c.shape == (1000,) and not np.shares_memory(a, c)
    workspace.release()
    assert not np.shares_memory(c, workspace.buffer(4000, np.float32))
    workspace.release()


def test_threads_have_their_own_buffers():
    seen = {}

    def grab(name):
        seen[name] = workspace.buffer(64, np.float32)

    threads = [threading.Thread(target=grab, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not np.shares_memory(seen[0], seen[1])


def test_layers_in_turn_and_in_two_threads_match_the_oracle(conv_cache):
    # A smaller layer after a larger one reads a buffer holding the larger one's columns.
    specs = [ConvSpec.parse("2,6,9,9,4,3,3,1,1"), ConvSpec.parse("1,3,5,6,4,3,3,2,1,1,1"),
             ConvSpec.parse("1,4,7,7,4,3,3,1,1,1,2", layout="NHWC")]
    rng = np.random.default_rng(5)
    cases = [(spec, *random_inputs(spec, "float32", rng)) for spec in specs]
    failures: list[str] = []

    def run():
        try:
            for spec, x, w, gy in cases * 2:
                y = gemmtune.conv2d(x, w, **conv_kwargs(spec), threads=1, cache_dir=conv_cache)
                assert_forward(y, conv2d_ref(x, w, spec), x, w, spec)
                gx, gw, _ = gemmtune.conv2d_backward(x, w, gy, **conv_kwargs(spec), threads=1,
                                                     cache_dir=conv_cache)
                rx, rw, _ = conv2d_backward_ref(x, w, gy, spec)
                assert np.allclose(gx, rx, rtol=1e-4, atol=1e-4), spec.label()
                assert np.allclose(gw, rw, rtol=1e-4, atol=1e-3), spec.label()
        except Exception as e:  # pragma: no cover - reported below
            failures.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
