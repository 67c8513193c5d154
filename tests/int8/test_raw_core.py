"""A raw core (the shape an AMX tile kernel plugs in with) gets layouts and zero points from the wrapper.

The core here is a stand-in written with numpy; what is under test is Int8Kernel's handling
around ``raw(A, B, C, beta, threads)``.
"""

from __future__ import annotations

import numpy as np
import pytest

from gemmtune.int8 import Int8Params, RawCore, compile_int8, exact_reference, register_core, unregister_core
from gemmtune.int8.verify import random_operand, verify_int8

calls = []


def _build(params, pair):
    def raw(A, B, C, beta, threads):
        assert A.flags.c_contiguous and B.flags.c_contiguous and C.flags.c_contiguous
        assert C.dtype == np.int32 and beta in (0, 1)
        calls.append((A.shape, B.shape, beta, threads))
        prod = (A.astype(np.int64) @ B.astype(np.int64)).astype(np.int32)
        C[...] = prod + C if beta else prod

    return raw


@pytest.fixture
def core():
    register_core(RawCore("numpyraw", requires=(), build=_build, pairs=("u8s8", "s8s8"), rank=5))
    yield Int8Params(MR=16, NR=16, MC=16, KC=64, NC=16, isa="numpyraw")
    unregister_core("numpyraw")


def test_raw_core_passes_the_contract(core):
    kernel = compile_int8(core, "s8s8")
    v = verify_int8(kernel, 40, 33, 70, "s8s8", threads=2)
    assert v.ok, v.reason
    assert calls and calls[-1][3] == 2


def test_raw_core_with_zero_points_and_layouts(core):
    rng = np.random.default_rng(0)
    A = np.asfortranarray(random_operand(rng, (23, 19), np.uint8))
    B = random_operand(rng, (19, 31), np.int8)[:, ::-1]
    out = np.asfortranarray(np.ones((23, 31), np.int32))
    compile_int8(core, "u8s8")(A, B, out, beta=1, a_zero_point=np.arange(23), b_zero_point=-5)
    np.testing.assert_array_equal(out, exact_reference(A, B, np.arange(23), -5, np.ones((23, 31), np.int32)))


def test_raw_core_refuses_pairs_it_lacks(core):
    with pytest.raises(ValueError, match="does not multiply u8u8"):
        compile_int8(core, "u8u8")
    with pytest.raises(ValueError, match="has no assembly"):
        compile_int8(core, "u8s8").asm()
