"""The contract every integer kernel variant must pass, exactly, for every dtype pair."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gemmtune.int8 import exact_reference, pair_dtypes, verify_int8
from gemmtune.int8.verify import SENTINEL, random_operand

from .conftest import ISAS, PAIRS


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("isa", ISAS)
def test_verify_on_fringe_shapes(int8_kernel, isa, pair):
    v = verify_int8(int8_kernel(isa, pair), 71, 45, 39, pair, threads=1)
    assert v.ok and v.status == "PASS", v.reason


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("isa", ISAS)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_exact_on_random_shapes_and_zero_points(int8_kernel, isa, pair, data):
    m, n, k = (data.draw(st.integers(1, 300), label=x) for x in "mnk")
    zp_kind = data.draw(st.sampled_from(["none", "scalar", "vector"]), label="zero points")
    threads = data.draw(st.sampled_from([1, 2]), label="threads")
    a_dt, b_dt = pair_dtypes(pair)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    A = random_operand(rng, (m, k), a_dt)
    B = random_operand(rng, (k, n), b_dt)
    za = zb = None
    if zp_kind == "scalar":
        za, zb = random_operand(rng, (1, 1), a_dt)[0, 0], int(random_operand(rng, (1, 1), b_dt)[0, 0])
    elif zp_kind == "vector":
        za, zb = random_operand(rng, (1, m), a_dt)[0], random_operand(rng, (1, n), b_dt)[0]
    C = np.full((m, n), SENTINEL, dtype=np.int32)
    int8_kernel(isa, pair)(A, B, C, a_zero_point=za, b_zero_point=zb, threads=threads)
    np.testing.assert_array_equal(C, exact_reference(A, B, za, zb))


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("isa", ISAS)
def test_the_largest_k_is_exact_at_the_extremes(int8_kernel, isa, pair):
    # K = max_k with every product at its extreme: the result lands next to an int32 bound,
    # and every intermediate (shift, column sums, compensation) wraps on the way.
    from gemmtune.int8 import max_k

    a_dt, b_dt = pair_dtypes(pair)
    k = max_k(pair)
    a_ext = np.iinfo(a_dt).max if a_dt == np.uint8 else np.iinfo(a_dt).min
    for b_ext in (np.iinfo(b_dt).min, np.iinfo(b_dt).max):
        A = np.full((2, k), a_ext, dtype=a_dt)
        B = np.full((k, 3), b_ext, dtype=b_dt)
        C = int8_kernel(isa, pair)(A, B, threads=1)
        want = k * int(a_ext) * int(b_ext)
        assert np.iinfo(np.int32).min <= want <= np.iinfo(np.int32).max
        assert (C == want).all()
