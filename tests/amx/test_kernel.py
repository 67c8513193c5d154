"""The raw AMX core is exact on every shape, pair, beta and thread count, and refuses bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gemmtune.amx import PAIRS, AmxParams, default_amx_params

from tests.conftest import examples
from .conftest import FRINGE, SENTINEL, VARIANTS, needs_amx, operands, reference

PRIMES = [2, 3, 5, 7, 13, 17, 31, 61, 67, 127, 131, 257, 293]
sizes = st.one_of(st.sampled_from([1] + PRIMES), st.integers(1, 300))


def run_and_check(kernel, pair, m, n, k, beta, threads, seed):
    rng = np.random.default_rng(seed)
    A, B = operands(rng, pair, m, n, k)
    if beta:
        C0 = rng.integers(-(2**20), 2**20, (m, n), dtype=np.int32)
    else:
        C0 = np.full((m, n), SENTINEL, dtype=np.int32)   # must be written, never read
    C = C0.copy()
    kernel(A, B, C, beta, threads)
    want = reference(A, B) + (C0 if beta else 0)
    assert np.array_equal(C, want), (
        f"{kernel.params.label()} {pair} {m}x{n}x{k} beta={beta} threads={threads}: "
        f"{np.count_nonzero(C != want)} of {C.size} elements differ")


@needs_amx
@pytest.mark.parametrize("pair", PAIRS)
@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=sizes, n=sizes, k=sizes, beta=st.sampled_from([0, 1]), threads=st.sampled_from([1, 2]),
       seed=st.integers(0, 2**32 - 1))
def test_exact_on_any_shape(amx_kernel, pair, m, n, k, beta, threads, seed):
    run_and_check(amx_kernel(FRINGE, pair), pair, m, n, k, beta, threads, seed)


@needs_amx
@pytest.mark.parametrize("index", range(len(VARIANTS)))
def test_variants_on_fringe_shapes(amx_kernel, index):
    kernel = amx_kernel(VARIANTS[index], "u8s8")
    for m, n, k in [(1, 1, 1), (16, 16, 64), (97, 61, 131), (300, 293, 257), (33, 130, 1)]:
        for beta, threads in [(0, 1), (1, 2)]:
            run_and_check(kernel, "u8s8", m, n, k, beta, threads, seed=m * n + k)


@needs_amx
@pytest.mark.parametrize("pair", ["u8u8", "s8s8"])
def test_extreme_values_do_not_saturate(amx_kernel, pair):
    """All-max (and all-min) operands: the largest sums, which a saturating path would clip."""
    from gemmtune.amx import PAIR_DTYPES

    kernel = amx_kernel(FRINGE, pair)
    ta, tb = (np.iinfo(t) for t in PAIR_DTYPES[pair])
    k = 1000
    for a, b in [(ta.max, tb.max), (ta.min, tb.max), (ta.min, tb.min)]:
        A = np.full((35, k), a, dtype=ta.dtype)
        B = np.full((k, 33), b, dtype=tb.dtype)
        C = np.full((35, 33), SENTINEL, dtype=np.int32)
        kernel(A, B, C, 0, 2)
        assert (C == int(a) * int(b) * k).all()


@needs_amx
def test_default_params_on_a_blocked_shape(amx_kernel):
    # K > KC and M > MC: several pc and ic blocks of the default configuration.
    p = default_amx_params("u8s8")
    run_and_check(amx_kernel(p, "u8s8"), "u8s8", p.MC + 37, p.NC + 19, p.KC + 70, 1, 2, seed=5)


@needs_amx
def test_views_and_empty_shapes(amx_kernel):
    kernel = amx_kernel(FRINGE, "u8s8")
    rng = np.random.default_rng(3)
    A, B = operands(rng, "u8s8", 40, 50, 70)
    big = np.full((40, 80), SENTINEL, dtype=np.int32)
    C = big[:, 10:60]                   # rows with unit stride, not C-contiguous
    kernel(A, B, C, 0, 2)
    assert np.array_equal(C, reference(A, B))
    assert (big[:, :10] == SENTINEL).all() and (big[:, 60:] == SENTINEL).all()
    col = np.full((40, 1), SENTINEL, dtype=np.int32)
    kernel(A, np.ascontiguousarray(B[:, :1]), col, 0, 1)
    assert np.array_equal(col, reference(A, B[:, :1]))
    C = np.full((40, 50), 7, dtype=np.int32)
    kernel(np.empty((40, 0), np.uint8), np.empty((0, 50), np.int8), C, 1, 1)
    assert (C == 7).all()
    kernel(np.empty((40, 0), np.uint8), np.empty((0, 50), np.int8), C, 0, 1)
    assert (C == 0).all()


@needs_amx
@pytest.mark.parametrize("args, exc, words", [
    (lambda A, B, C: (A.astype(np.int8), B, C, 0, 1), TypeError, "needs uint8"),
    (lambda A, B, C: (A, B.astype(np.uint8), C, 0, 1), TypeError, "needs int8"),
    (lambda A, B, C: (A, B, C.astype(np.int64), 0, 1), TypeError, "needs int32"),
    (lambda A, B, C: (A.tolist(), B, C, 0, 1), TypeError, "numpy array"),
    (lambda A, B, C: (A[0], B, C, 0, 1), ValueError, "2-D"),
    (lambda A, B, C: (np.asfortranarray(A), B, C, 0, 1), ValueError, "C-contiguous"),
    (lambda A, B, C: (A, B[:-1], C, 0, 1), ValueError, "do not align"),
    (lambda A, B, C: (A, B, C[:-1], 0, 1), ValueError, "expected"),
    (lambda A, B, C: (A, B, np.asfortranarray(C), 0, 1), ValueError, "unit stride"),
    (lambda A, B, C: (A, B, C, 2, 1), ValueError, "beta must be 0 or 1"),
    (lambda A, B, C: (A, B, C, 0.5, 1), ValueError, "beta must be 0 or 1"),
    (lambda A, B, C: (A, B, C, 0, 0), ValueError, "at least 1"),
    (lambda A, B, C: (A, B, C, 0, 1.0), TypeError, "threads must be an integer"),
])
def test_bad_input_is_refused_with_one_sentence(amx_kernel, args, exc, words):
    kernel = amx_kernel(FRINGE, "u8s8")
    rng = np.random.default_rng(0)
    A, B = operands(rng, "u8s8", 20, 30, 40)
    C = np.zeros((20, 30), np.int32)
    with pytest.raises(exc, match=words):
        kernel(*args(A, B, C))


@needs_amx
def test_read_only_and_overlapping_c_are_refused(amx_kernel):
    kernel = amx_kernel(FRINGE, "u8u8")
    A = np.zeros((8, 8), np.uint8)
    C = np.zeros((8, 8), np.int32)
    C.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        kernel(A, A, C, 0, 1)
    buf = np.zeros(8 * 8 * 4, np.uint8)
    with pytest.raises(ValueError, match="overlaps"):
        kernel(buf[:64].reshape(8, 8), A, buf.view(np.int32).reshape(8, 8), 0, 1)


@needs_amx
def test_compiled_code_goes_to_numba_disk_cache(amx_kernel, compiled_root):
    from gemmtune.amx.kernel import module_name

    amx_kernel(FRINGE, "s8u8")
    name = module_name(FRINGE, "s8u8")
    kernels = compiled_root / "kernels"
    assert (kernels / f"{name}.py").exists()
    assert list((kernels / "__pycache__").glob(f"{name}.gemm-*.nbi"))


def test_no_amx_cpu_compiles_nothing(monkeypatch, tmp_path):
    """The Zen 3 path: features without AMX make compile_amx refuse before any code exists."""
    from gemmtune.amx import compile_amx, permission

    monkeypatch.setattr(permission, "host_features", lambda: {"avx2": True, "fma": True})
    with pytest.raises(RuntimeError, match="AMX kernels cannot run here: the CPU has no AMX"):
        compile_amx(AmxParams(), "u8s8", tmp_path)
    assert not (tmp_path / "kernels").exists()


@needs_amx
@pytest.mark.parametrize("name, features, ok", [
    (None, None, True),
    ("generic", "+sse2,+avx2", False),
    ("sapphirerapids", "+avx512f", True),
    ("sapphirerapids", "+avx512f,-amx-int8", False),
    ("generic", "+amx-tile,+amx-int8", True),
])
def test_numba_target_without_amx_compiles_nothing(monkeypatch, tmp_path, name, features, ok):
    """NUMBA_CPU_FEATURES without AMX would make LLVM abort the process: refuse first."""
    from numba.core import config

    from gemmtune.amx import compile_amx
    from gemmtune.amx.kernel import numba_targets_amx

    monkeypatch.setattr(config, "CPU_NAME", name)
    monkeypatch.setattr(config, "CPU_FEATURES", features)
    assert numba_targets_amx()[0] is ok
    if not ok:
        with pytest.raises(RuntimeError, match="AMX kernels cannot run here: numba compiles for"):
            compile_amx(AmxParams(), "u8s8", tmp_path)
        assert not (tmp_path / "kernels").exists()


def test_invalid_params_are_refused_before_compiling(tmp_path):
    from gemmtune.amx import compile_amx

    with pytest.raises(ValueError, match="multiple of 64"):
        compile_amx(AmxParams(KC=100), "u8s8", tmp_path)
    with pytest.raises(ValueError, match="unknown int8 pair"):
        compile_amx(AmxParams(), "u8s16", tmp_path)


@needs_amx
def test_verify_passes_a_right_kernel_and_names_a_wrong_one(amx_kernel):
    from gemmtune.amx import verify_amx

    kernel = amx_kernel(FRINGE, "s8s8")
    assert verify_amx(kernel, "s8s8", 70, 90, 130, threads=2).status == "PASS"

    def forgets_last_column(A, B, C, beta, threads):
        # A wrong kernel: it leaves the last column of C alone.
        if B.shape[1] > 1:
            kernel(A, np.ascontiguousarray(B[:, :-1]), C[:, :-1], beta, threads)

    v = verify_amx(forgets_last_column, "s8s8", 70, 90, 130)
    assert v.status == "FAIL"
    assert v.reason.startswith("70x90x130 beta=0: 70 of 6300 elements wrong, first at (0, 89)")
