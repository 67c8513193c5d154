"""Compiled kernels shared by the kernel tests.

Every distinct KernelParams costs a numba compile of several seconds, so the suite uses a
handful of deliberately awkward sets (tiny blocks that force every fringe, odd MR, both
parallel loops, 128/256/512-bit vectors) and keeps their compiled code in one directory per
session: numba's disk cache then makes a rerun cheap.
"""

from __future__ import annotations

import pytest

from gemmtune.kernels.params import KernelParams

# Tiny cache blocks: every shape above ~20 crosses several jc, pc and ic blocks, and no block
# size divides another, so every fringe path runs.
FRINGE_SETS = {
    "float32": [
        KernelParams(MR=5, NR=16, MC=15, KC=7, NC=32, vec_bits=256, unroll=3, prefetch=2, parallel="ic"),
        KernelParams(MR=3, NR=8, MC=6, KC=9, NC=24, vec_bits=256, unroll=2, parallel="jr", pack_a=False, pack_b=False),
        KernelParams(MR=3, NR=32, MC=9, KC=13, NC=64, vec_bits=512, unroll=1, prefetch=0, parallel="n"),
    ],
    "float64": [
        KernelParams(MR=4, NR=8, MC=12, KC=5, NC=16, vec_bits=256, unroll=2, prefetch=0, parallel="jr"),
        KernelParams(MR=7, NR=2, MC=21, KC=11, NC=6, vec_bits=128, unroll=4, prefetch=1, parallel="ic", pack_a=False),
        KernelParams(MR=4, NR=4, MC=8, KC=6, NC=12, vec_bits=256, unroll=1, parallel="m", pack_b=False),
    ],
}


@pytest.fixture(scope="session")
def kernel_root(compiled_root) -> str:
    return str(compiled_root)


@pytest.fixture(scope="session")
def kernels(kernel_root):
    """(dtype, index) -> compiled GemmKernel, compiled on first use."""
    from gemmtune.kernels.gemm import compile_kernel

    made: dict = {}

    def get(dtype: str, index: int):
        key = (dtype, index)
        if key not in made:
            made[key] = compile_kernel(FRINGE_SETS[dtype][index], dtype, kernel_root)
        return made[key]

    return get
