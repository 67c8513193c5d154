"""The batched GEMM driver: exact on fringe stacks, broadcast indices, bands of a small batch."""

from __future__ import annotations

import numpy as np
import pytest

from gemmtune.kernels.batched import band_rows, batched_kernel, generate_batched_source
from gemmtune.kernels.params import KernelParams, lanes
from gemmtune.kernels.reference import check
from gemmtune.stacks import stack_params

# Tiny blocks, so a product of a few dozen rows crosses several jc, pc and ic blocks and
# every edge path runs; one set per operand form (in place, packed, mixed) and driver
# (serial "m"/"n", prange "ic"). 256-bit vectors: valid on every x86-64 machine the
# project runs on.
BATCHED = {
    "float32": [
        KernelParams(MR=3, NR=16, MC=6, KC=5, NC=32, vec_bits=256, unroll=2, parallel="m",
                     pack_a=False, pack_b=False),
        KernelParams(MR=4, NR=8, MC=8, KC=7, NC=16, vec_bits=256, unroll=3, parallel="ic"),
    ],
    "float64": [
        KernelParams(MR=5, NR=8, MC=10, KC=6, NC=16, vec_bits=256, unroll=1, parallel="n",
                     pack_b=False),
    ],
}
ALL = [(d, p) for d, ps in BATCHED.items() for p in ps]
FRINGE_STACKS = ((1, 1, 1, 1), (3, 1, 37, 5), (2, 29, 1, 17), (4, 13, 11, 1), (2, 67, 41, 23),
                 (5, 17, 33, 64))


def _stack(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def _check_products(C, A3, B3, ia, ib, alpha=1.0, beta=0.0, C0=None):
    for c in range(C.shape[0]):
        v = check(C[c], A3[ia[c]], B3[ib[c]], alpha, beta, None if C0 is None else C0[c])
        assert v.ok, f"product {c}: {v.reason}"


@pytest.mark.parametrize("dtype,params", ALL, ids=[f"{d}-{p.label()}" for d, p in ALL])
@pytest.mark.parametrize("threads", [1, 2])
def test_fringe_stacks_match_reference(kernel_root, dtype, params, threads):
    kernel = batched_kernel(params, dtype, kernel_root)
    rng = np.random.default_rng(7)
    for batch, m, n, k in FRINGE_STACKS:
        A3 = _stack(rng, (batch, m, k), dtype)
        B3 = _stack(rng, (batch, k, n), dtype)
        C3 = np.full((batch, m, n), np.nan, dtype=dtype)   # poison: unwritten shows as NaN
        idx = np.arange(batch, dtype=np.int64)
        kernel(A3, B3, C3, idx, idx, 1.0, 0.0, threads)
        _check_products(C3, A3, B3, idx, idx)


@pytest.mark.parametrize("dtype,params", ALL, ids=[f"{d}-{p.label()}" for d, p in ALL])
def test_broadcast_indices_negative_strides_and_beta(kernel_root, dtype, params):
    """One A for every product (index 0, stride-0 view), B reversed along the batch, beta != 0."""
    kernel = batched_kernel(params, dtype, kernel_root)
    rng = np.random.default_rng(11)
    batch, m, n, k = 6, 19, 23, 13
    A1 = _stack(rng, (1, m, k), dtype)
    A3 = np.broadcast_to(A1, (batch, m, k))
    B3 = _stack(rng, (batch, k, n), dtype)[::-1]
    C0 = _stack(rng, (batch, m, n), dtype)
    C3 = C0.copy()
    zeros = np.zeros(batch, dtype=np.int64)
    idx = np.arange(batch, dtype=np.int64)
    kernel(A1, B3, C3, zeros, idx, -0.5, 1.5, 2)
    _check_products(C3, A1, B3, zeros, idx, -0.5, 1.5, C0)
    C3[...] = np.nan
    kernel(A3, B3, C3, idx, idx, 2.0, 0.0, 1)
    _check_products(C3, A3, B3, idx, idx, 2.0)


def test_a_batch_smaller_than_the_threads_is_cut_into_row_bands(kernel_root):
    assert band_rows(8, 64, 2, 4) == 64          # enough products: one unit each
    assert band_rows(1, 64, 2, 4) == 32          # one product, two threads: two bands
    assert band_rows(1, 63, 2, 4) == 32          # bands are whole MR slivers
    assert band_rows(1, 3, 2, 4) == 3            # nothing to cut below MR
    dtype, params = ALL[1]
    kernel = batched_kernel(params, dtype, kernel_root)
    rng = np.random.default_rng(3)
    A3, B3 = _stack(rng, (1, 61, 29), dtype), _stack(rng, (1, 29, 37), dtype)
    C3 = np.full((1, 61, 37), np.nan, dtype=dtype)
    idx = np.zeros(1, dtype=np.int64)
    kernel(A3, B3, C3, idx, idx, 1.0, 0.0, 2)
    _check_products(C3, A3, B3, idx, idx)


def test_refuses_operands_without_unit_stride_rows(kernel_root):
    dtype, params = ALL[0]
    kernel = batched_kernel(params, dtype, kernel_root)
    A3 = np.ones((2, 4, 3), dtype=dtype)
    B3 = np.ones((2, 3, 5), dtype=dtype)
    C3 = np.ones((2, 4, 5), dtype=dtype)
    idx = np.arange(2, dtype=np.int64)
    with pytest.raises(ValueError, match="unit stride"):
        kernel(A3.transpose(0, 2, 1).copy().transpose(0, 2, 1), B3, C3, idx, idx, 1.0, 0.0, 1)
    with pytest.raises(ValueError, match="one entry per product"):
        kernel(A3, B3, C3, idx[:1], idx, 1.0, 0.0, 1)


def test_generated_source_has_no_views_in_the_batch_loop():
    """Views in the per-product loop cost atomic reference counts; the driver indexes."""
    src = generate_batched_source(BATCHED["float32"][0], "float32")
    loop = src[src.index("for u in range("):]
    assert "A3[a]" not in loop and "C3[c]" not in loop and "B3[bb]" not in loop


@pytest.mark.parametrize("vec_bits,registers", [(512, 32), (256, 16), (128, 16)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stack_params_fit_the_register_file(vec_bits, registers, dtype):
    """Forced feature sets (AVX-512, AVX2, 128-bit): valid params whose tile fits."""
    for m, n, k in [(1, 1, 1), (16, 16, 16), (32, 32, 32), (64, 64, 64), (128, 128, 64),
                    (7, 5, 3), (100, 3, 17), (2, 200, 9)]:
        p = stack_params(m, n, k, dtype, 1, vec_bits=vec_bits, registers=registers)
        p.validate(dtype)
        vl = lanes(vec_bits, dtype)
        assert p.MR * p.NR // vl + p.NR // vl < registers
        assert not p.pack_a and not p.pack_b and p.parallel == "m"
        assert p.MC >= m and p.NC >= n and p.KC >= min(k, 512)
    assert stack_params(16, 16, 16, dtype, 2, vec_bits=vec_bits, registers=registers).parallel == "m"


def test_stack_params_of_the_avx2_form_run_here(kernel_root):
    """The parameters an AVX2 machine (16 ymm registers) would pick, compiled and run here."""
    p = stack_params(16, 16, 16, "float32", 1, vec_bits=256, registers=16)
    kernel = batched_kernel(p, "float32", kernel_root)
    rng = np.random.default_rng(5)
    A3, B3 = _stack(rng, (9, 16, 16), "float32"), _stack(rng, (9, 16, 16), "float32")
    C3 = np.full((9, 16, 16), np.nan, dtype="float32")
    idx = np.arange(9, dtype=np.int64)
    kernel(A3, B3, C3, idx, idx, 1.0, 0.0, 1)
    _check_products(C3, A3, B3, idx, idx)


def test_verify_batched_passes_a_right_kernel_and_catches_a_wrong_one(kernel_root):
    from gemmtune.kernels.batched import verify_batched

    dtype, params = ALL[0]
    kernel = batched_kernel(params, dtype, kernel_root)
    assert verify_batched(kernel, 96, 20, 24, 16, threads=2).ok

    class OffByOne:
        """The right kernel, then one element of the last product spoiled."""
        dtype = kernel.dtype

        def __call__(self, A3, B3, C3, ia, ib, alpha, beta, threads):
            kernel(A3, B3, C3, ia, ib, alpha, beta, threads)
            C3[-1, -1, -1] += 1

    verdict = verify_batched(OffByOne(), 4, 9, 10, 11)
    assert not verdict.ok and "product 3" in verdict.reason
