"""The peers of an integer GEMM: exact where they can be, float32 flagged past its K."""

from __future__ import annotations

import numpy as np

from gemmtune.bench import integer
from gemmtune.int8 import f32_exact_k
from gemmtune.int8.verify import exact_reference


def test_every_peer_that_claims_exactness_is_exact_and_float32_is_flagged_past_its_k():
    k = f32_exact_k("u8u8")
    A, B = integer.operands("u8u8", 5, 7, k)
    found = integer.peers(A, B, "u8u8", 1)
    assert found[0].role == "numpy" and found[0].exact
    assert "numpy_int" in [p.role for p in found]
    ref = exact_reference(A, B)
    for p in found:
        got = p.fn()
        assert p.exact and np.array_equal(p.out if p.out is not None else got, ref), p.name
    A, B = integer.operands("u8u8", 5, 7, k + 1)
    assert not integer.numpy_f32(A, B, "u8u8").exact


def test_numpy_int_past_its_limit_is_left_out_with_a_note():
    A, B = integer.operands("s8s8", 3, 3, 3)
    notes: list[str] = []
    found = integer.peers(A, B, "s8s8", 1, numpy_int_max=2, on_note=notes.append)
    assert "numpy_int" not in [p.role for p in found]
    assert notes[0] == integer.numpy_int_note("3x3x3", 2) and "2^3" in notes[0]
    assert integer.numpy_int_fits(1024, 1024, 1024) and not integer.numpy_int_fits(1024, 1024, 1025)
